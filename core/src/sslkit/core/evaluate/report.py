"""Run the evaluations of a trained run and write ``report.json``, ``report.md`` and plots.

Generic tasks (any domain): ``representation`` (RankMe, uniformity, embedding std; alignment
with labels), ``linear-probe``, ``knn-probe``, ``retrieval``; then every task the plugin
registers (a plugin task with a generic task's name replaces it). A task that needs labels the
data lacks is skipped with one line saying so.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import UsageError
from sslkit.core.evaluate.embeddings import Embeddings, TaskContext
from sslkit.core.plugin import Plugin, resolve

GENERIC_TASKS = ("representation", "linear-probe", "knn-probe", "retrieval")

DESCRIPTIONS = {
    "representation": "label-free health: RankMe (effective rank, Garrido et al. 2023), "
    "uniformity and alignment (Wang & Isola 2020), std of normalised embeddings",
    "linear-probe": "logistic / ridge regression on standardised frozen embeddings, "
    "regularisation chosen by cross-validation on the train split",
    "knn-probe": "weighted kNN on cosine similarity (k = 20 and 200, FAISS), Wu et al. 2018",
    "retrieval": "label-as-relevance retrieval by cosine similarity: Recall@K, NDCG@K, "
    "precision@1 and MAP@R (pytorch-metric-learning)",
}

#: metrics that describe the protocol, not the quality (kept out of the summary)
_BOOKKEEPING = {
    "rows",
    "dim",
    "train_rows",
    "test_rows",
    "query_rows",
    "queries",
    "gallery",
    "queries_without_match",
    "cv_folds",
    "C",
    "alpha",
    "ideal_std",
    "seconds",
}


def task_names(plugin: Plugin) -> list[str]:
    """Generic tasks then the plugin's, each name once (a plugin task shadows a generic one)."""
    return [*(t for t in GENERIC_TASKS if t not in set(plugin.tasks)), *plugin.tasks]


def on_request(plugin: Plugin) -> list[str]:
    """The plugin's tasks that run only when named (``TaskSpec.on_request``)."""
    return [name for name, spec in plugin.tasks.items() if spec.on_request]


def default_tasks(plugin: Plugin) -> list[str]:
    """What ``sslkit evaluate`` runs without ``--task``: every task but those on request."""
    skip = set(on_request(plugin))
    return [name for name in task_names(plugin) if name not in skip]


def select_tasks(plugin: Plugin, tasks: list[str] | None) -> list[str]:
    """The tasks to run: ``None`` the default ones, ``["all"]`` every task, else those named
    (an unknown name is a UsageError listing what exists)."""
    if not tasks:
        return default_tasks(plugin)
    known = task_names(plugin)
    if list(tasks) == ["all"]:
        return known
    for name in tasks:
        if name not in known:
            raise UsageError(f"unknown task {name!r}; available: all, {', '.join(known)}")
    return list(tasks)


def check_tasks(plugin: Plugin, tasks: list[str] | None) -> None:
    select_tasks(plugin, tasks)


def split_roles(splits: list[str]) -> tuple[str, str | None]:
    """(the split probes are fitted on, the split they are scored on or None)."""
    train = "train" if "train" in splits else splits[0]
    for name in ("test", "valid", "val", "validation"):
        if name in splits and name != train:
            return train, name
    others = [s for s in splits if s != train]
    return train, (others[-1] if others else None)


def labelled(emb: Embeddings) -> Embeddings | None:
    """Rows with a label (NaN labels dropped), or None when the split has no labels."""
    if emb.y is None:
        return None
    y = np.asarray(emb.y)
    if y.dtype.kind == "f":
        keep = np.isfinite(y)
        if not keep.all():
            return Embeddings(emb.ids[keep], emb.X[keep], y[keep]) if keep.any() else None
    return emb


def _needs_labels(name: str) -> dict[str, str]:
    return {"skipped": f"{name} needs labels and this data has none"}


def run_task(plugin: Plugin, ctx: TaskContext, name: str) -> dict[str, Any]:
    """One task's metrics; a task that needs labels the data lacks returns ``{"skipped": why}``."""
    from sslkit.core.evaluate import probes, retrieval

    data = ctx.data
    if name in set(plugin.tasks):  # Registry.__contains__ raises UsageError, not KeyError
        spec = plugin.tasks[name]
        if spec.needs_labels and not data.has_labels():
            return _needs_labels(name)
        return resolve(spec.run)(ctx)
    if name not in GENERIC_TASKS:
        raise UsageError(f"unknown task {name!r}; available: {', '.join(task_names(plugin))}")
    train_name, test_name = split_roles(data.split_names())
    train_all = ctx.embeddings(train_name)
    if name == "representation":
        return probes.representation_stats(train_all, seed=ctx.seed)
    kind = data.task_kind()
    train = labelled(train_all) if data.has_labels() else None
    test = labelled(ctx.embeddings(test_name)) if train is not None and test_name else None
    if train is None:
        return _needs_labels(name)
    if name == "linear-probe":
        if test is None:  # one labelled split: a seeded 80/20 hold-out of it
            train, test = _holdout(train, ctx.seed)
            out = probes.linear_probe(train, test, kind, ctx.seed)
            return {**out, "protocol": "80/20 hold-out of the only labelled split"}
        return probes.linear_probe(train, test, kind, ctx.seed)
    if name == "knn-probe":
        return probes.knn_probe(train, test, kind, seed=ctx.seed)
    if kind == "regression":
        return {"skipped": "retrieval needs class labels; this data has a regression target"}
    return retrieval.retrieval_metrics(train, test, seed=ctx.seed)


def holdout_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices of a seeded 80/20 hold-out (the only labelled split scored)."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return np.sort(order[:cut]), np.sort(order[cut:])


def _holdout(emb: Embeddings, seed: int) -> tuple[Embeddings, Embeddings]:
    a, b = holdout_rows(len(emb.X), seed)
    return (
        Embeddings(emb.ids[a], emb.X[a], emb.y[a]),
        Embeddings(emb.ids[b], emb.X[b], emb.y[b]),
    )


def evaluate_tasks(
    plugin: Plugin, ctx: TaskContext, tasks: list[str] | None = None, log=None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in select_tasks(plugin, tasks):
        start = time.perf_counter()
        metrics = dict(run_task(plugin, ctx, name))
        if "skipped" not in metrics:
            metrics["seconds"] = round(time.perf_counter() - start, 3)
        out[name] = metrics
        if log is not None:
            log(name, metrics)
    return out


def make_plots(
    ctx: TaskContext, folder: Path, *, projection: str = "pca", metrics_path: Path | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Write the PNG plots into ``folder``; returns (file names, a training summary)."""
    from sslkit.core.evaluate import plots

    names: list[str] = []
    training: dict[str, Any] = {}
    if metrics_path is not None:
        summary = plots.training_curves(plots.read_metrics(metrics_path), folder / "training.png")
        if summary is not None:
            names.append("training.png")
            training = summary
    splits = ctx.data.split_names()
    _, test_name = split_roles(splits)
    shown = test_name or split_roles(splits)[0]
    emb = ctx.embeddings(shown)
    if len(emb.X) >= 2:
        y = labelled(emb)
        emb_y = y if y is not None else emb
        plots.embedding_map(
            emb_y.X,
            None if y is None else y.y,
            folder / "embedding_map.png",
            kind=ctx.data.task_kind(),
            method=projection,
            seed=ctx.seed,
            title=f"{shown} split, {projection.upper()} of {emb.X.shape[1]}-d embeddings",
        )
        names.append("embedding_map.png")
        train = ctx.embeddings(split_roles(splits)[0])
        plots.spectrum(train.X, folder / "spectrum.png", seed=ctx.seed)
        names.append("spectrum.png")
    return names, training


# ---------------------------------------------------------------------------------------------
# writing


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == int(value) and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4f}"
    return str(value)


def headline(metrics: dict[str, Any], limit: int = 4) -> str:
    if "skipped" in metrics:
        return f"skipped: {metrics['skipped']}"
    items = [
        f"{k} {_fmt(v)}"
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in _BOOKKEEPING
    ]
    return ", ".join(items[:limit]) or "(no numeric metric)"


def _seconds(metrics: dict[str, Any]) -> str:
    """The task's wall time for the summary table ("" for a skipped task)."""
    value = metrics.get("seconds")
    return "" if not isinstance(value, int | float) else f"{value:.1f}"


def render_markdown(report: dict[str, Any], descriptions: dict[str, str]) -> str:
    run = Path(str(report.get("run", ""))).name
    lines = [f"# Evaluation report: {run}", ""]
    paid = report.get("payoff") or {}
    if "verdict" in paid:
        lines += [f"**{paid['verdict']['line']}**", ""]
    facts = [
        ("domain", report.get("domain")),
        ("method", report.get("method")),
        ("checkpoint step", report.get("step")),
        ("data", report.get("data") or "the run's data"),
        ("splits", ", ".join(f"{k} ({v} rows)" for k, v in report.get("splits", {}).items())),
        ("labels", report.get("labels")),
        ("embedding dim", report.get("embedding_dim")),
        ("embedding spaces", ", ".join(report["spaces"]) if report.get("spaces") else None),
    ]
    lines += ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts if v is not None], ""]
    tasks: dict[str, dict[str, Any]] = report.get("tasks", {})
    lines += ["## Summary", "", "| task | result | seconds |", "|---|---|---:|"]
    lines += [f"| {name} | {headline(m)} | {_seconds(m)} |" for name, m in tasks.items()]
    lines.append("")
    if report.get("not_run"):
        named = ", ".join(f"`{n}`" for n in report["not_run"])
        lines += [
            f"Not run by default (minutes of training each): {named}; ask for one with "
            "`sslkit evaluate RUN --task NAME`, or `--task all`.",
            "",
        ]
    if paid:
        lines += payoff_section(paid)
    training = report.get("training") or {}
    if training:
        text = (
            f"Training: {_fmt(training.get('steps'))} steps, loss "
            f"{_fmt(training.get('first_loss'))} -> {_fmt(training.get('last_loss'))}"
        )
        if "rankme_last" in training:
            text += f", RankMe {_fmt(training['rankme_first'])} -> {_fmt(training['rankme_last'])}"
        lines += [text + ".", ""]
    for name, metrics in tasks.items():
        lines += [f"## {name}", ""]
        if descriptions.get(name):
            lines += [f"_{descriptions[name]}_", ""]
        if "skipped" in metrics:
            lines += [f"skipped: {metrics['skipped']}", ""]
            continue
        lines += ["| metric | value |", "|---|---:|"]
        lines += [
            f"| {k} | {f'{v:.2f} s' if k == 'seconds' else _fmt(v)} |"
            for k, v in metrics.items()
            if not isinstance(v, dict | list)
        ]
        lines.append("")
    plots = report.get("plots", [])
    if plots:
        lines += ["## Plots", ""]
        captions = {
            "training.png": "Training loss (and RankMe when monitored) over optimizer steps",
            "embedding_map.png": "2-D map of the embeddings, coloured by label",
            "spectrum.png": "Normalised singular values of the embeddings",
        }
        for plot in plots:
            if plot != "label_efficiency.png":  # shown in payoff_section
                lines += [f"![{captions.get(plot, plot)}]({plot})", ""]
    return "\n".join(lines)


def payoff_section(section: dict[str, Any]) -> list[str]:
    """The report.md section "Did pretraining pay?"."""
    from sslkit.core.evaluate import payoff

    lines = ["## Did pretraining pay?", ""]
    if "skipped" in section:
        return [*lines, f"skipped: {section['skipped']}", ""]
    metric = payoff.METRIC_NAMES.get(section["metric"], section["metric"])
    lines += [section["verdict"]["line"], ""]
    rows = section["rows"]
    fractions = sorted({r["fraction"] for r in rows})
    head = section.get("column") or " | ".join(f"{f:.0%} labels" for f in fractions)
    caption = section.get("caption") or (
        f"{metric} on the test split of the default task's probe ({section['task']}), mean ± "
        "std over seeded subsamples of the training labels:"
    )
    lines += [
        caption,
        "",
        f"| features | model | {head} |",
        "|---|---|" + "---:|" * len(fractions),
    ]
    for key in dict.fromkeys((r["features"], r["model"]) for r in rows):
        cells = []
        for f in fractions:
            row = next(
                (r for r in rows if (r["features"], r["model"], r["fraction"]) == (*key, f)), None
            )
            cells.append("" if row is None else f"{row['mean']:.4f} ± {row['std']:.4f}")
        lines.append(f"| {key[0]} | {key[1]} | {' | '.join(cells)} |")
    lines.append("")
    lines += [f"- {text}" for text in section.get("low_labels", [])]
    if section.get("low_labels"):
        lines.append("")
    if "seconds" in section:
        lines += [f"(control, baseline and curve: {section['seconds']:.1f} s)", ""]
    if section.get("curve", True):
        lines += [f"![Label efficiency]({payoff.CURVE_PNG})", ""]
    return lines


def write_report(
    folder: Path,
    report: dict[str, Any],
    *,
    plot_fn=None,
    descriptions: dict[str, str] | None = None,
) -> Path:
    """Write ``report.json``, ``report.md`` (and the plots ``plot_fn(tmp_folder)`` makes) into a
    temporary folder beside ``folder``, then swap it in: a failure leaves the old report."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        if plot_fn is not None:
            names, training = plot_fn(tmp)
            report["plots"] = names
            if training:
                report["training"] = training
        (tmp / "report.json").write_text(
            json.dumps(report, indent=2, sort_keys=False, default=str), encoding="utf-8"
        )
        text = render_markdown(report, {**DESCRIPTIONS, **(descriptions or {})})
        (tmp / "report.md").write_text(text, encoding="utf-8")
        swap_in(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def swap_in(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` folder to ``target``, replacing what was there; it gets
    the umask's modes (mkdtemp made it private, safetensors its files)."""
    from sslkit.core.engine.rundir import follow_umask

    follow_umask(tmp)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
