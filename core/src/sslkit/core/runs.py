"""Loading a trained run back from its folder: the config, the data (with the preprocessing
fitted in training), the method and its weights. ``evaluate`` and ``export`` start here."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sslkit.core.config import RunConfig, load_toml, run_config_from_dict
from sslkit.core.memory import (
    describe,
    is_memory_object,
    is_memory_path,
    load_memory,
    missing_data_error,
)
from sslkit.core.method_config import build_method
from sslkit.core.plugin import get_plugin, resolve


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
    run_dir: str | Path, data: Any = None, device: str = "cpu", *, _opened=None
) -> LoadedRun:
    """Rebuild a run; ``data`` (a path, or an in-memory object loaded by the plugin's
    ``from_memory`` hook) replaces the run's data, preprocessed as in training.

    Checks, before any data is read: the folder is a run with a checkpoint, and data is given
    when the run was trained on in-memory data (the run does not keep it: a
    :class:`~sslkit.core.errors.UsageError` asks for it). Then: the data has the schema the run
    was trained on (``info.json``), and the weights fit the method."""
    from sslkit.core.engine.checkpoint import load_weights

    run, plugin, cfg = _opened or open_run(run_dir)
    saved_path = getattr(cfg.data, "path", None)
    if data is None and is_memory_path(saved_path):
        raise missing_data_error(f"the run {run.path}", saved_path)
    state = run.read_json("data_state.json")
    info = run.read_json("info.json")
    if is_memory_object(data):
        domain_data = load_memory(plugin, data, cfg.data, state)
        shown: str | None = describe(data)
    else:
        data_cfg = cfg.data if data is None else replace(cfg.data, path=str(data))
        domain_data = resolve(plugin.load_data)(data_cfg, state=state)
        shown = None if data is None else str(data)
    check_info(run.path, info, domain_data.info, shown)
    method = build_method(plugin, cfg.method, cfg.model, domain_data)
    checkpoint = load_weights(method, run.path)
    method.to(device).eval()
    return LoadedRun(run.path, plugin, cfg, domain_data, method, checkpoint)


def open_run(run_dir: str | Path):
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


def check_info(
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
