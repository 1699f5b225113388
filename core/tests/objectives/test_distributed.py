"""World size 2 (two real gloo processes) equals one process on the global batch, for every
objective that gathers or reduces. The processes run ``_dist_worker.py`` (see its docstring)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest
import torch

from sslkit.core import distributed as D

_path = pathlib.Path(__file__).with_name("_dist_worker.py")
_spec = importlib.util.spec_from_file_location("_sslkit_dist_worker", _path)
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)
CASE_NAMES = W.CASE_NAMES


@pytest.fixture(scope="module")
def world2_results():
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, str(_path), d], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return [
            torch.load(os.path.join(d, f"rank{r}.pt"), weights_only=True) for r in range(W.WORLD)
        ]


@pytest.mark.distributed
@pytest.mark.parametrize("name", CASE_NAMES)
def test_world_size_2_equals_global_batch(world2_results, name):
    for r, res in enumerate(world2_results):
        assert res[name] == "ok", f"rank {r}:\n{res[name]}"


def test_rank_helpers_without_process_group(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not D.is_distributed()
    assert (D.rank(), D.world_size(), D.is_main(), D.shard_info()) == (0, 1, True, (0, 1))
    x = torch.randn(3, 2, requires_grad=True)
    assert D.gather(x) is x and D.all_reduce_sum(x) is x
    D.barrier()
