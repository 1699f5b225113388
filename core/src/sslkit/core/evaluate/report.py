"""Run the evaluations of a trained run and write ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sslkit.core.engine.rundir import atomic_write_text
from sslkit.core.errors import UsageError
from sslkit.core.evaluate.embeddings import TaskContext
from sslkit.core.evaluate.probes import linear_probe, representation_stats
from sslkit.core.plugin import Plugin, resolve

GENERIC_TASKS = ("representation", "linear-probe")


def task_names(plugin: Plugin) -> list[str]:
    return [*GENERIC_TASKS, *plugin.tasks]


def run_task(plugin: Plugin, ctx: TaskContext, name: str) -> dict[str, Any]:
    """One task's metrics; a task that needs labels the data lacks returns ``{"skipped": why}``."""
    data = ctx.data
    if name == "representation":
        split = "train" if "train" in data.split_names() else data.split_names()[0]
        return representation_stats(ctx.embeddings(split))
    if name == "linear-probe":
        if not data.has_labels():
            return {"skipped": "linear-probe needs labels and this data has none"}
        splits = data.split_names()
        test = "test" if "test" in splits else splits[-1]
        return linear_probe(
            ctx.embeddings("train"), ctx.embeddings(test), data.task_kind(), ctx.seed
        )
    if name not in plugin.tasks:
        raise UsageError(f"unknown task {name!r}; available: {', '.join(task_names(plugin))}")
    spec = plugin.tasks[name]
    if spec.needs_labels and not data.has_labels():
        return {"skipped": f"{name} needs labels and this data has none"}
    return resolve(spec.run)(ctx)


def evaluate_tasks(
    plugin: Plugin, ctx: TaskContext, tasks: list[str] | None = None
) -> dict[str, Any]:
    names = tasks or task_names(plugin)
    return {name: run_task(plugin, ctx, name) for name in names}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def write_report(folder: Path, report: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        folder / "report.json", json.dumps(report, indent=2, sort_keys=True, default=str)
    )
    lines = [f"# Evaluation of {report.get('run', '')}", ""]
    lines += [f"- domain: {report.get('domain')}, method: {report.get('method')}", ""]
    for task, metrics in report.get("tasks", {}).items():
        lines += [f"## {task}", ""]
        if "skipped" in metrics:
            lines += [f"skipped: {metrics['skipped']}", ""]
            continue
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {k} | {_fmt(v)} |" for k, v in metrics.items() if not isinstance(v, dict | list)
        ]
        lines.append("")
    for plot in report.get("plots", []):
        lines += [f"![{plot}]({plot})", ""]
    atomic_write_text(folder / "report.md", "\n".join(lines))
