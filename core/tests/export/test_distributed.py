"""Export under torchrun (2 processes, gloo): part files per rank, a manifest from rank 0, and
the same rows and vectors as a single-process export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    from sslkit.core import api
    from sslkit.core.plugin import register
    from sslkit.testing.digits import plugin

    register(plugin)
    run_dir, out = sys.argv[1], sys.argv[2]
    for fmt in ("parquet", "npy", "faiss"):
        api.export(run_dir, to=fmt, out=f"{out}/{fmt}", batch_size=200)
    """
)


@pytest.mark.distributed
def test_torchrun_parts_and_manifest(digits_run: Path, tmp_path: Path):
    from sslkit.core.export.read import load_embeddings

    script = tmp_path / "export_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SSLKIT_PLUGINS": "digits"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        str(digits_run),
        str(tmp_path / "out"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    single = tmp_path / "single"
    from sslkit.core import api

    api.export(digits_run, to="parquet", out=single)
    ids1, emb1 = load_embeddings(single)

    for fmt in ("parquet", "npy"):
        folder = tmp_path / "out" / fmt
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["world_size"] == 2 and manifest["rows"] == 1797
        assert [p["rank"] for p in manifest["parts"]] == [0, 1]
        # batches of 200 dealt round-robin: train (1348 rows) 6 x 200 + 148, then test (449)
        # 200 + 200 + 49; rank 0 gets batches 0, 2, 4, 6 (148 rows), 8 (200 rows)
        assert [p["rows"] for p in manifest["parts"]] == [948, 849]
        ext = "parquet" if fmt == "parquet" else "npy"
        assert (folder / f"embeddings-00001-of-00002.{ext}").is_file()
        ids2, emb2 = load_embeddings(folder)
        order = np.argsort(ids2)
        np.testing.assert_array_equal(ids2[order], np.sort(ids1))
        np.testing.assert_allclose(emb2[order], emb1[np.argsort(ids1)], atol=1e-6)
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    faiss_dir = tmp_path / "out" / "faiss"
    card = json.loads((faiss_dir / "model_card.json").read_text())
    assert card["faiss"]["rows"] == 1797
    assert sorted(np.load(faiss_dir / "ids.npy").tolist()) == sorted(ids1.tolist())
    assert sorted(p.name for p in faiss_dir.iterdir()) == [
        "ids.npy",
        "index.faiss",
        "manifest.json",
        "model_card.json",
    ]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
