"""The round trip production relies on: export Parquet + FAISS + ONNX, encode queries with
onnxruntime, search the FAISS index, and get what the PyTorch model gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

cli = pytest.importorskip("sslkit.cli.main")


def export(*args: str) -> int:
    return cli.run(["export", *map(str, args)])


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_round_trip(digits_run: Path, tmp_path: Path):
    import faiss
    import onnxruntime as ort

    from sslkit.core import api
    from sslkit.core.export.read import load_embeddings, read_card

    for fmt in ("parquet", "faiss", "onnx"):
        assert export(digits_run, "--to", fmt, "--out", tmp_path / fmt) == 0

    loaded = api.load_run(digits_run)
    with torch.no_grad():
        rows = list(loaded.data.export_batches(256))
        torch_ids = np.concatenate([np.asarray(b.ids) for b in rows])
        torch_emb = np.concatenate([loaded.method.embed(b.inputs).numpy() for b in rows])

    # Parquet holds the PyTorch embeddings of every row, in order, with ids
    ids, emb = load_embeddings(tmp_path / "parquet")
    np.testing.assert_array_equal(ids, torch_ids)
    np.testing.assert_allclose(emb, torch_emb, atol=1e-6, rtol=0)

    # queries encoded by onnxruntime agree with PyTorch within 1e-4
    card = read_card(tmp_path / "onnx")
    session = ort.InferenceSession(
        str(tmp_path / "onnx" / card["onnx"]["file"]), providers=["CPUExecutionProvider"]
    )
    name = card["onnx"]["inputs"][0]["name"]
    queries = [b.inputs for b in loaded.data.eval_batches("test", 100)]
    q_onnx = np.concatenate([session.run(None, {name: q.numpy()})[0] for q in queries])
    with torch.no_grad():
        q_torch = np.concatenate([loaded.method.embed(q).numpy() for q in queries])
    assert q_onnx.shape == (449, 32)
    assert np.abs(q_onnx - q_torch).max() < 1e-4
    assert card["onnx"]["parity"]["max_abs_diff"] < 1e-4

    # the FAISS neighbours of the ONNX queries are the exact neighbours of the PyTorch ones
    fcard = read_card(tmp_path / "faiss")["faiss"]
    assert fcard["index"] == "flat" and fcard["normalized"] and fcard["rows"] == 1797
    index = faiss.read_index(str(tmp_path / "faiss" / "index.faiss"))
    index_ids = np.load(tmp_path / "faiss" / "ids.npy")
    k = 10
    _, found = index.search(normalise(q_onnx), k)
    sims = normalise(q_torch) @ normalise(torch_emb).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, : k + 1]
    top = np.take_along_axis(sims, order, 1)
    clear = top[:, k - 1] - top[:, k] > 1e-5  # no tie at the cut-off
    assert clear.mean() > 0.95
    for row in np.flatnonzero(clear):
        assert set(index_ids[found[row]]) == set(torch_ids[order[row, :k]]), row
    # a rank is pinned where no tie touches it: a clear gap to the neighbour before (or none)
    # and to the one after; checking the gap before alone let a tie after it swap two ranks
    gaps = np.diff(top, axis=1) < -1e-5
    pinned = np.concatenate([np.ones((len(top), 1), bool), gaps[:, : k - 1]], 1) & gaps
    same_rank = index_ids[found] == torch_ids[order[:, :k]]
    assert pinned.mean() > 0.5
    assert np.all(same_rank[pinned])


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_reports_recall(digits_run: Path, tmp_path: Path, kind: str):
    import faiss

    assert export(digits_run, "--to", "faiss", "--index", kind, "--out", tmp_path / kind) == 0
    card = json.loads((tmp_path / kind / "model_card.json").read_text())["faiss"]
    assert card["index"] == kind and 0.5 < card["recall@10"] <= 1.0
    assert card["recall_queries"] == 1000
    index = faiss.read_index(str(tmp_path / kind / "index.faiss"))
    assert index.ntotal == 1797
    assert (kind == "ivf") == isinstance(faiss.downcast_index(index), faiss.IndexIVFFlat)
