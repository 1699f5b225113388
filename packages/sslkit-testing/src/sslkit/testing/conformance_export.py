"""The export path of :func:`sslkit.testing.check_plugin`: every format read back and compared
with the embeddings of the model that was trained (in memory, not reloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FORMATS = ("parquet", "npy", "faiss", "onnx", "safetensors")


def check_export(
    folder: Any,
    fmt: str,
    loaded: Any,
    ids: Any,
    ref: Any,
    atol: float = 1e-5,
    trained: Any = None,
) -> None:
    """Read an export back and compare it with ``ref``, the trained model's embeddings of the
    rows ``ids`` (in export order): Parquet/npy vectors and ids; the FAISS index size and that
    each sampled row finds itself; ONNX outputs through onnxruntime (1e-4) against ``trained``
    (default: ``loaded.method``, the reloaded run); the safetensors encoder rebuilt by
    :func:`sslkit.core.export.load_encoder` from a copy of the export folder alone (elsewhere,
    no run folder beside it), against ``ref``. ``loaded`` is the run as
    :func:`sslkit.core.api.load_run` rebuilds it (only for its data's batches)."""
    import json

    import numpy as np
    import torch

    folder = Path(folder)
    card = json.loads((folder / "model_card.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    if fmt in ("parquet", "npy"):
        from sslkit.core.export.read import load_embeddings

        got_ids, got = load_embeddings(folder)
        assert got.shape == ref.shape, f"{fmt}: exported {got.shape}, model gives {ref.shape}"
        assert got.shape[1] == loaded.method.embed_dim, "exported dimension differs from embed_dim"
        assert np.array_equal(got_ids.astype(str), np.asarray(ids).astype(str)), (
            f"{fmt}: ids differ"
        )
        np.testing.assert_allclose(got, ref, atol=atol, rtol=1e-4)
        assert manifest["rows"] == len(ref) == card["rows"]
    elif fmt == "faiss":
        import faiss

        index = faiss.read_index(str(folder / "index.faiss"))
        assert index.ntotal == len(ref), f"faiss index holds {index.ntotal} of {len(ref)} rows"
        _check_neighbours(index, ref, card["faiss"]["normalized"])
    elif fmt == "onnx":
        import onnxruntime as ort

        from sslkit.core.engine.method import flatten_inputs

        session = ort.InferenceSession(
            str(folder / card["onnx"]["file"]), providers=["CPUExecutionProvider"]
        )
        names = [i["name"] for i in card["onnx"]["inputs"]]
        batch = next(iter(loaded.data.export_batches(16)))
        _, tensors = flatten_inputs(batch.inputs)
        got = session.run(None, {n: t.numpy() for n, t in zip(names, tensors)})[0]
        with torch.no_grad():
            want = (trained or loaded.method).embed(batch.inputs).float().numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    elif fmt == "safetensors":
        import shutil
        import tempfile

        from sslkit.core.export import load_encoder

        assert card.get("encoder_spec"), (
            f"{card['method']} declares no encoder (Method.embedder and encoder_spec): its "
            "safetensors export loads only into a method rebuilt from the run"
        )
        # the export folder alone, elsewhere: nothing of the run (config, data, checkpoint)
        with tempfile.TemporaryDirectory(prefix="sslkit-encoder-") as away:
            moved = shutil.copytree(folder, Path(away) / "export")
            encoder = load_encoder(moved)
        assert not encoder.training, "load_encoder returns the encoder in eval mode"
        batch = next(iter(loaded.data.export_batches(64)))
        with torch.no_grad():
            got = encoder(batch.inputs).float().numpy()
        assert got.shape == ref[: len(got)].shape, f"safetensors: encoder gives {got.shape}"
        np.testing.assert_allclose(got, ref[: len(got)], atol=atol, rtol=1e-4)
    else:
        raise AssertionError(f"unknown export format {fmt!r}")


def _check_neighbours(index: Any, ref: Any, normalized: bool, k: int = 5) -> None:
    """The index's top-``k`` of sampled rows are the exact top-``k`` by inner product (on
    normalised vectors for cosine): the same scores, and the same rows wherever the scores are
    not tied."""
    import faiss
    import numpy as np

    base = np.ascontiguousarray(ref, dtype=np.float32).copy()
    if normalized:
        faiss.normalize_L2(base)
    pick = np.linspace(0, len(base) - 1, min(20, len(base))).astype(int)
    k = min(k, len(base))
    sims, found = index.search(base[pick], k)
    exact = base[pick] @ base.T
    order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    want = np.take_along_axis(exact, order, axis=1)
    np.testing.assert_allclose(sims, want, atol=1e-4, rtol=1e-4, err_msg="faiss scores")
    for q in range(len(pick)):
        for j in range(k):
            tied = np.abs(exact[q] - want[q, j]) <= 1e-5
            assert tied[found[q, j]], f"faiss neighbour {j} of row {pick[q]} is not an exact one"
