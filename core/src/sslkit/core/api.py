"""The Python API: ``pretrain``, ``evaluate`` and ``export``. The CLI only wraps these.

from sslkit.core import api
run = api.pretrain("tabular", overrides=["train.epochs=5"])
report = api.evaluate(run.run_dir)
api.export(run.run_dir, to="parquet")
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sslkit.core.config import RunConfig, build_run_config, load_toml, run_config_from_dict
from sslkit.core.errors import UsageError
from sslkit.core.plugin import get_plugin, resolve


@dataclass
class RunResult:
    run_dir: Path
    config: RunConfig
    steps: int
    losses: list[float]
    metrics: dict[str, Any] = field(default_factory=dict)
    """The default task's metrics, evaluated right after training."""
    seconds: float = 0.0


def resolve_config(
    domain: str,
    method: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """The fully resolved config a pretrain with these arguments would use."""
    plugin = get_plugin(domain)
    return build_run_config(
        plugin, method, preset=preset, config_file=config_file, options=options, overrides=overrides
    )


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    import torch

    versions = {}
    for dist in ("sslkit-core", "sslkit-cli", "torch", "numpy", "pandas", "scikit-learn"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": versions,
        "cuda": torch.cuda.is_available(),
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu_threads": torch.get_num_threads(),
    }


def pretrain(
    domain: str | RunConfig,
    method: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    evaluate_default_task: bool = True,
    log=print,
) -> RunResult:
    """Pretrain ``method`` of ``domain`` (or a ready :class:`RunConfig`) and save the run."""
    from sslkit.core.engine.rundir import RunDir
    from sslkit.core.engine.trainer import fit

    cfg = (
        domain
        if isinstance(domain, RunConfig)
        else resolve_config(
            domain,
            method,
            preset=preset,
            config_file=config_file,
            options=options,
            overrides=overrides,
        )
    )
    plugin = get_plugin(cfg.domain)
    name = cfg.train.name or f"{cfg.domain}-{cfg.method}"
    run = RunDir.create(cfg.train.out, name, resume=cfg.train.resume)
    data = resolve(plugin.load_data)(cfg.data, state=None)
    spec = plugin.method(cfg.method)
    model = resolve(spec.build)(cfg.model, data)
    from sslkit.core.engine.rundir import atomic_write_text

    atomic_write_text(run.config, cfg.to_toml())
    run.write_json("environment.json", environment())
    run.write_json("info.json", data.info)
    run.write_json("data_state.json", data.state())
    if not cfg.train.quiet:
        log(f"run folder: {run.path}")
    result = fit(model, data, cfg, run, log=log)
    metrics: dict[str, Any] = {}
    if evaluate_default_task and plugin.default_task:
        from sslkit.core.evaluate.embeddings import TaskContext
        from sslkit.core.evaluate.report import run_task

        ctx = TaskContext(run.path, cfg, data, model, device=str(next(model.parameters()).device))
        metrics = run_task(plugin, ctx, plugin.default_task)
        run.write_json("default_task.json", {"task": plugin.default_task, "metrics": metrics})
    return RunResult(run.path, cfg, result.steps, result.losses, metrics, result.seconds)


@dataclass
class LoadedRun:
    """A trained run rebuilt from its folder: plugin, config, data (preprocessing reused), method."""

    run_dir: Path
    plugin: Any
    config: RunConfig
    data: Any
    method: Any
    checkpoint: dict[str, Any]


def load_run(
    run_dir: str | Path, data: str | None = None, device: str = "cpu", *, _opened=None
) -> LoadedRun:
    """Rebuild a run; ``data`` (a path) replaces the run's data, preprocessed as in training.

    Checks, before any data is read: the folder is a run with a checkpoint. Then: the data has
    the schema the run was trained on (``info.json``), and the weights fit the method."""
    from sslkit.core.engine.checkpoint import load_weights

    run, plugin, cfg = _opened or _open_run(run_dir)
    state = run.read_json("data_state.json")
    info = run.read_json("info.json")
    data_cfg = cfg.data if data is None else replace(cfg.data, path=str(data))
    domain_data = resolve(plugin.load_data)(data_cfg, state=state)
    _check_info(run.path, info, domain_data.info, data)
    method = resolve(plugin.method(cfg.method).build)(cfg.model, domain_data)
    checkpoint = load_weights(method, run.path)
    method.to(device).eval()
    return LoadedRun(run.path, plugin, cfg, domain_data, method, checkpoint)


def _open_run(run_dir: str | Path):
    """(RunDir, plugin, config) of a run folder that has a checkpoint; reads no data."""
    from sslkit.core.engine.checkpoint import WEIGHTS
    from sslkit.core.engine.rundir import RunDir
    from sslkit.core.errors import RunError

    run = RunDir.open(run_dir)
    if not (run.checkpoints / WEIGHTS).is_file():
        raise RunError(
            f"{run.path}: no checkpoint ({run.checkpoints.name}/{WEIGHTS} is missing); "
            "train it first (sslkit pretrain) or pass another run folder"
        )
    values = load_toml(run.config)
    plugin = get_plugin(str(values.get("run", {}).get("domain", "")))
    cfg = run_config_from_dict(plugin, values, str(run.config))
    return run, plugin, cfg


def _check_info(
    run_dir: Path, saved: dict[str, Any], now: dict[str, Any], data: str | None = None
) -> None:
    """The data must have the shape the run was trained on (same ``info``)."""
    from sslkit.core.errors import DataError

    for key, value in saved.items():
        if key in now and json.dumps(now[key], sort_keys=True, default=str) != json.dumps(
            value, sort_keys=True, default=str
        ):
            raise DataError(
                f"the data does not match the run: {key} is {now[key]!r}, the run was trained with {value!r}",
                path=data or run_dir,
                hint=f"export and evaluate need data with the schema of the run {run_dir}",
            )


def evaluate(
    run_dir: str | Path,
    task: str | list[str] | None = None,
    *,
    data: str | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    projection: str = "pca",
    batch_size: int = 1024,
    log=None,
) -> dict[str, Any]:
    """Evaluate a run's frozen embeddings: every generic and plugin task (or ``task``), then
    ``report.json``, ``report.md`` and PNG plots in ``out`` (default ``<run>/report``).

    ``log(task, metrics)`` is called as each task finishes. Returns the report (with
    ``folder``)."""
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.core.evaluate.report import check_tasks, evaluate_tasks, make_plots, write_report

    if projection not in ("pca", "tsne"):
        raise UsageError(f"unknown projection {projection!r}; available: pca, tsne")
    opened = _open_run(run_dir)
    tasks = [task] if isinstance(task, str) else (list(task) if task else None)
    check_tasks(opened[1], tasks)
    loaded = load_run(run_dir, data=data, device=device, _opened=opened)
    ctx = TaskContext(loaded.run_dir, loaded.config, loaded.data, loaded.method, device, batch_size)
    results = evaluate_tasks(loaded.plugin, ctx, tasks, log=log)
    report: dict[str, Any] = {
        "run": str(loaded.run_dir),
        "domain": loaded.config.domain,
        "method": loaded.config.method,
        "step": loaded.checkpoint.get("step"),
        "data": data or getattr(loaded.config.data, "path", "") or "(the plugin's sample)",
        "labels": (f"yes ({loaded.data.task_kind()})" if loaded.data.has_labels() else "none"),
        "embedding_dim": int(loaded.method.embed_dim),
        "tasks": results,
    }
    folder = Path(out) if out else loaded.run_dir / "report"

    def plots(tmp: Path):
        made = make_plots(
            ctx, tmp, projection=projection, metrics_path=loaded.run_dir / "metrics.jsonl"
        )
        report["splits"] = {k: len(v.X) for k, v in ctx._cache.items()}
        return made

    descriptions = {n: s.summary for n, s in loaded.plugin.tasks.items() if s.summary}
    write_report(folder, report, plot_fn=plots, descriptions=descriptions)
    report["folder"] = str(folder)
    return report


def export(
    run_dir: str | Path,
    *,
    to: str = "parquet",
    data: str | None = None,
    out: str | Path | None = None,
    dim: int | None = None,
    overwrite: bool = False,
    batch_size: int = 4096,
    device: str = "cpu",
    **options: Any,
) -> Path:
    """Export a run's embeddings (parquet, npy, faiss) or its encoder (onnx, safetensors) to
    ``out`` (default ``<run>/export/<format>``); returns the output folder. FAISS options:
    ``index`` (flat, ivf, hnsw), ``metric`` (cosine, ip), ``nlist``, ``nprobe``, ``hnsw_m``,
    ``ef_search``. Under torchrun every rank calls this. Every argument, the run folder
    and its checkpoint are checked before any data is read, and the output appears only when
    complete (a temporary folder renamed at the end)."""
    from sslkit.core.distributed import rank
    from sslkit.core.export.run import check_request, export_device, export_run, target_folder

    check_request(to, options)
    opened = _open_run(run_dir)
    target = target_folder(opened[0].path, to, out, overwrite) if rank() == 0 else out
    device = export_device(device)
    loaded = load_run(run_dir, data=data, device=device, _opened=opened)
    return export_run(
        loaded,
        to=to,
        out=target,
        dim=dim,
        overwrite=overwrite,
        batch_size=batch_size,
        device=device,
        **options,
    )
