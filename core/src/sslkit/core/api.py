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


def load_run(run_dir: str | Path, data: str | None = None, device: str = "cpu") -> LoadedRun:
    """Rebuild a run; ``data`` (a path) replaces the run's data, preprocessed as in training."""
    from sslkit.core.engine.checkpoint import load_weights
    from sslkit.core.engine.rundir import RunDir

    run = RunDir.open(run_dir)
    values = load_toml(run.config)
    plugin = get_plugin(str(values.get("run", {}).get("domain", "")))
    cfg = run_config_from_dict(plugin, values, str(run.config))
    state = run.read_json("data_state.json")
    data_cfg = cfg.data if data is None else replace(cfg.data, path=str(data))
    domain_data = resolve(plugin.load_data)(data_cfg, state=state)
    info = run.read_json("info.json")
    _check_info(run.path, info, domain_data.info)
    method = resolve(plugin.method(cfg.method).build)(cfg.model, domain_data)
    checkpoint = load_weights(method, run.path)
    method.to(device).eval()
    return LoadedRun(run.path, plugin, cfg, domain_data, method, checkpoint)


def _check_info(run_dir: Path, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """The data must have the shape the run was trained on (same ``info``)."""
    from sslkit.core.errors import DataError

    for key, value in saved.items():
        if key in now and json.dumps(now[key], sort_keys=True, default=str) != json.dumps(
            value, sort_keys=True, default=str
        ):
            raise DataError(
                f"the data does not match the run: {key} is {now[key]!r}, the run was trained with {value!r}",
                path=run_dir,
                hint="export and evaluate need data with the training schema",
            )


def evaluate(
    run_dir: str | Path,
    task: str | list[str] | None = None,
    *,
    data: str | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate a run's frozen embeddings; writes ``report.json``, ``report.md`` and plots."""
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.core.evaluate.report import evaluate_tasks, task_names, write_report

    loaded = load_run(run_dir, data=data, device=device)
    tasks = [task] if isinstance(task, str) else task
    for name in tasks or []:
        if name not in task_names(loaded.plugin):
            raise UsageError(
                f"unknown task {name!r}; available: {', '.join(task_names(loaded.plugin))}"
            )
    ctx = TaskContext(loaded.run_dir, loaded.config, loaded.data, loaded.method, device=device)
    report = {
        "run": str(loaded.run_dir),
        "domain": loaded.config.domain,
        "method": loaded.config.method,
        "step": loaded.checkpoint.get("step"),
        "tasks": evaluate_tasks(loaded.plugin, ctx, tasks),
    }
    folder = Path(out) if out else loaded.run_dir / "report"
    write_report(folder, report)
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
    """Export embeddings (or the encoder) of a run; returns the output folder."""
    from sslkit.core.export.run import export_run

    loaded = load_run(run_dir, data=data, device=device)
    return export_run(
        loaded, to=to, out=out, dim=dim, overwrite=overwrite, batch_size=batch_size, **options
    )
