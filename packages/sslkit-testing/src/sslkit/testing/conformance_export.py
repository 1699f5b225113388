"""``check_plugin``: every method of a plugin pretrains, evaluates, exports and reloads."""

from __future__ import annotations

import contextlib
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
    (``overrides`` select it, e.g. ``data.max_rows=300``), evaluate, export, read the export
    back and check its embeddings agree with those of the model that was trained (still in
    memory), so a method whose weights or preprocessing do not survive the save and reload
    fails. Returns each method's report. Runs go to ``workdir`` (default: a temporary folder,
    removed at the end).

    ``export_formats``: any of parquet, npy, faiss, onnx, safetensors; each export is read back
    and checked against the trained model's embeddings (:func:`check_export`)."""
    from sslkit.core.plugin import Plugin, register, unregister

    assert isinstance(plugin, Plugin), f"{plugin!r} is not an sslkit Plugin"
    assert len(plugin.methods) > 0, f"plugin {plugin.name} registers no method"
    with contextlib.ExitStack() as stack:
        if workdir is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sslkit-check-"))
            root = Path(tmp)
        else:
            root = Path(workdir)
        register(plugin)
        stack.callback(unregister, plugin.name)
        reports = {
            name: _check_method(plugin, name, root, overrides, export_formats, atol)
            for name in methods or list(plugin.methods)
        }
    return reports


def _check_method(
    plugin: Any,
    name: str,
    root: Path,
    overrides: list[str] | tuple[str, ...],
    export_formats: tuple[str, ...],
    atol: float,
) -> dict[str, Any]:
    import numpy as np
    import torch

    from sslkit.core import api
    from sslkit.core.config import build_run_config

    sets = [*DEFAULT_OVERRIDES, f"train.out={root}", f"train.name={name}", *overrides]
    cfg = build_run_config(plugin, name, overrides=sets)
    result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
    assert result.steps > 0, f"{plugin.name}/{name}: no optimizer step was taken"
    assert all(np.isfinite(result.losses)), f"{plugin.name}/{name}: non-finite loss {result.losses}"

    # the trained model's embeddings of every exported row, in order, before anything is reloaded
    trained = result.method.to("cpu").eval()
    ids, vectors = [], []
    with torch.no_grad():
        for batch in result.data.export_batches(4096):
            ids.append(np.asarray(batch.ids))
            vectors.append(trained.embed(batch.inputs).float().numpy())
    ref_ids, ref = np.concatenate(ids), np.concatenate(vectors)

    report = api.evaluate(result.run_dir)
    assert report["tasks"], f"{plugin.name}/{name}: evaluate ran no task"
    loaded = api.load_run(result.run_dir)
    for fmt in export_formats:
        out = api.export(result.run_dir, to=fmt, out=root / f"{name}-{fmt}")
        assert (out / "model_card.json").is_file(), f"{fmt} export wrote no model card"
        check_export(out, fmt, loaded, ref_ids, ref, atol=atol, trained=trained)
    return report


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
    (default: ``loaded.method``, the reloaded run); backbone weights loaded into a freshly
    built method. ``loaded`` is the run as :func:`sslkit.core.api.load_run` rebuilds it."""
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
            want = (trained or loaded.method).embed(batch.inputs).float().numpy()
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
