"""``check_plugin``: every method of a plugin pretrains, evaluates, exports and reloads."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

DEFAULT_OVERRIDES = (
    "train.max_steps=3",
    "train.epochs=1",
    "train.batch_size=32",
    "train.quiet=true",
)


def check_plugin(
    plugin: Any,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    methods: list[str] | None = None,
    workdir: str | Path | None = None,
    export_formats: tuple[str, ...] = ("parquet",),
    atol: float = 1e-5,
) -> dict[str, dict[str, Any]]:
    """For every method (or ``methods``): pretrain a few steps on the plugin's tiny sample
    (``overrides`` select it, e.g. ``data.max_rows=300``), evaluate, export, reload the export and
    check the embeddings agree with the trained model's. Returns each method's report.

    ``export_formats``: any of parquet, npy, faiss, onnx, safetensors; each export is read back
    and checked against the reloaded model (:func:`check_export`)."""
    import numpy as np
    import torch

    from sslkit.core import api
    from sslkit.core.config import build_run_config
    from sslkit.core.evaluate.embeddings import embed_split
    from sslkit.core.plugin import Plugin, register, unregister

    assert isinstance(plugin, Plugin), f"{plugin!r} is not an sslkit Plugin"
    assert len(plugin.methods) > 0, f"plugin {plugin.name} registers no method"
    root = (
        Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"sslkit-check-{plugin.name}-"))
    )
    reports: dict[str, dict[str, Any]] = {}
    register(plugin)
    try:
        for name in methods or list(plugin.methods):
            sets = [*DEFAULT_OVERRIDES, f"train.out={root}", f"train.name={name}", *overrides]
            cfg = build_run_config(plugin, name, overrides=sets)
            result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
            assert result.steps > 0, f"{plugin.name}/{name}: no optimizer step was taken"
            assert all(np.isfinite(result.losses)), (
                f"{plugin.name}/{name}: non-finite loss {result.losses}"
            )

            report = api.evaluate(result.run_dir)
            assert report["tasks"], f"{plugin.name}/{name}: evaluate ran no task"

            loaded = api.load_run(result.run_dir)
            # the reloaded model's embeddings of every exported row, in order
            ids, again = [], []
            with torch.no_grad():
                for batch in loaded.data.export_batches(4096):
                    ids.append(np.asarray(batch.ids))
                    again.append(loaded.method.embed(batch.inputs).float().numpy())
            ref_ids, ref = np.concatenate(ids), np.concatenate(again)
            for fmt in export_formats:
                out = api.export(result.run_dir, to=fmt, out=root / f"{name}-{fmt}")
                assert (out / "model_card.json").is_file(), f"{fmt} export wrote no model card"
                check_export(out, fmt, loaded, ref_ids, ref, atol=atol)

            # a fresh reload of the run gives the same embeddings (weights and preprocessing saved)
            split = loaded.data.split_names()[0]
            first = embed_split(loaded.method, loaded.data, split)
            second_run = api.load_run(result.run_dir)
            second = embed_split(second_run.method, second_run.data, split)
            np.testing.assert_allclose(first.X, second.X, atol=atol, rtol=1e-4)
            reports[name] = report
    finally:
        unregister(plugin.name)
    return reports


def check_export(
    folder: Any, fmt: str, loaded: Any, ids: Any, ref: Any, atol: float = 1e-5
) -> None:
    """Read an export back and compare it with ``ref``, the reloaded model's embeddings of the
    rows ``ids`` (in export order): Parquet/npy vectors and ids; the FAISS index size and that
    each sampled row finds itself; ONNX outputs through onnxruntime (1e-4); backbone weights
    loaded into a freshly built method."""
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
        pick = np.linspace(0, len(ref) - 1, min(20, len(ref))).astype(int)
        q = np.ascontiguousarray(ref[pick], dtype=np.float32)
        if card["faiss"]["normalized"]:
            faiss.normalize_L2(q)
        sims, found = index.search(q, 1)
        own = (q * q).sum(1) if not card["faiss"]["normalized"] else np.ones(len(q))
        # each row finds itself, or a row exactly as similar (a duplicate)
        assert np.all((found[:, 0] == pick) | (sims[:, 0] >= own - 1e-4)), "faiss lost rows"
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
            want = loaded.method.embed(batch.inputs).float().numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    elif fmt == "safetensors":
        from safetensors.torch import load_file

        from sslkit.core.plugin import resolve

        fresh = resolve(loaded.plugin.method(loaded.config.method).build)(
            loaded.config.model, loaded.data
        )
        fresh.load_state_dict(load_file(str(folder / card["safetensors"]["file"])), strict=False)
        fresh.eval()
        batch = next(iter(loaded.data.export_batches(64)))
        with torch.no_grad():
            got = fresh.embed(batch.inputs).float().numpy()
        np.testing.assert_allclose(got, ref[: len(got)], atol=atol, rtol=1e-4)
    else:
        raise AssertionError(f"unknown export format {fmt!r}")
