"""PyG's import and its CSR adjacency (what the GNN encoders build) print no warnings once
sslkit.core.quiet.quiet() ran; without it they do (so the filters still match the wording)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import sys
if sys.argv[1] == "quiet":
    from sslkit.core.quiet import quiet
    quiet()
import torch
from torch_geometric.utils import to_torch_csr_tensor
to_torch_csr_tensor(torch.tensor([[0, 1, 2], [1, 2, 0]]), size=(3, 3))
print("built")
"""


def child(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "built", done.stderr[-2000:]
    return done.stderr


@pytest.mark.parametrize("mode", ["quiet", "loud"])
def test_pyg_sparse_and_jit_warnings_are_filtered(mode):
    err = child(mode)
    listed = ("Sparse invariant checks", "Sparse CSR tensor support", "`torch.jit.script`")
    if mode == "quiet":
        assert err.strip() == "", err
    else:  # the control: these are the lines quiet() exists for
        assert all(text in err for text in listed), err
