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
    check the embeddings agree with the trained model's. Returns each method's report."""
    import numpy as np
    import pyarrow.parquet as pq
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
            for fmt in export_formats:
                out = api.export(result.run_dir, to=fmt, out=root / f"{name}-{fmt}")
                assert (out / "model_card.json").is_file(), f"{fmt} export wrote no model card"
            table = pq.read_table(root / f"{name}-parquet" / "embeddings.parquet")
            exported = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
            assert exported.shape[1] == loaded.method.embed_dim, (
                "exported dimension differs from embed_dim"
            )

            # the export equals embeddings of the reloaded model on the same rows, in order
            again = []
            with torch.no_grad():
                for batch in loaded.data.export_batches(4096):
                    again.append(loaded.method.embed(batch.inputs).float().numpy())
            again_arr = np.concatenate(again)
            assert again_arr.shape == exported.shape, f"{again_arr.shape} != {exported.shape}"
            np.testing.assert_allclose(exported, again_arr, atol=atol, rtol=1e-4)

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
