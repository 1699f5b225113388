"""The untrained control of a run and the "did pretraining pay?" assessment of its default task.

:func:`untrained_method` builds the method as pretraining built it before its first step (same
config, same seed); :func:`assess` gathers the pretrained, control and baseline features of the
default task's splits and scores them with :mod:`sslkit.core.evaluate.payoff`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.evaluate import payoff
from sslkit.core.evaluate.embeddings import Embeddings, TaskContext
from sslkit.core.plugin import Plugin, get_plugin, resolve


def untrained_method(cfg: Any, data: Any, device: str = "cpu") -> Any:
    """The method as pretraining started it: built from ``cfg`` with ``cfg.train.seed`` (the
    plugins build their weights from the global torch generator only, so these are the initial
    weights of the run; the conformance kit checks it). The global random states (python,
    numpy, torch) are left as they were."""
    import random

    import torch

    from sslkit.core.engine.trainer import seed_everything
    from sslkit.core.method_config import build_method

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        seed_everything(cfg.train.seed)
        method = build_method(get_plugin(cfg.domain), cfg.method, cfg.model, data)
    random.setstate(py_state)
    np.random.set_state(np_state)
    return method.to(torch.device(device)).eval()


def control_context(ctx: TaskContext) -> TaskContext:
    """A task context like ``ctx`` whose method is the untrained control."""
    return TaskContext(
        ctx.run_dir,
        ctx.config,
        ctx.data,
        untrained_method(ctx.config, ctx.data, ctx.device),
        ctx.device,
        ctx.batch_size,
    )


def _aligned(name: str, split: str, emb: Embeddings, reference: Embeddings) -> Embeddings:
    if len(emb.ids) != len(reference.ids) or not np.array_equal(
        np.asarray(emb.ids), np.asarray(reference.ids)
    ):
        raise RuntimeError(
            f"{name} of the {split} split lists other rows than the embeddings; a baseline's "
            "features(ctx, split) must return the rows of ctx.embeddings(split) in order"
        )
    return Embeddings(reference.ids, np.asarray(emb.X, dtype=np.float32), reference.y)


def feature_sets(
    plugin: Plugin,
    ctx: TaskContext,
    control: TaskContext | None,
    task: int | None = None,
    features: dict[tuple[str, str], Embeddings] | None = None,
) -> tuple[dict[str, tuple], dict[str, tuple[str, ...]], Any, str | None]:
    """``(sets, models, protocol, baseline name)`` of the default task: each set is
    ``(train, test, val or None)`` with the labelled rows only, aligned across sets.
    ``task``: the column of ``ctx.data.task_labels`` to label them with (None: the labels of
    the embeddings); ``features`` keeps each set's features of a split across calls."""
    from sslkit.core.evaluate.logistic import DEFAULT_PROBE
    from sslkit.core.evaluate.report import holdout_rows, split_roles

    spec = plugin.tasks[plugin.default_task] if plugin.default_task in plugin.tasks else None
    protocol = resolve(spec.probe) if spec is not None and spec.probe else DEFAULT_PROBE
    splits = ctx.data.split_names()
    train_name, test_name = split_roles(splits)
    # a validation split chooses C only when it is not the split scored (no test split)
    val_name = (
        "val"
        if getattr(protocol, "select", "") == "val" and "val" in splits and test_name != "val"
        else None
    )
    getters: dict[str, Any] = {payoff.PRETRAINED: ctx.embeddings}
    models: dict[str, tuple[str, ...]] = {payoff.PRETRAINED: ("probe",)}
    if control is not None:
        getters[payoff.CONTROL] = control.embeddings
        models[payoff.CONTROL] = ("probe",)
    baseline = spec.baseline if spec is not None else None
    if baseline is not None:
        raw = resolve(baseline.features)
        getters[baseline.name] = lambda split: raw(ctx, split)
        models[baseline.name] = ("probe", "boosting") if baseline.boosting else ("probe",)

    kind = ctx.data.task_kind()

    def rows_of(split: str) -> tuple[Embeddings, np.ndarray]:
        ref = ctx.embeddings(split)
        if task is not None:
            y = np.asarray(ctx.data.task_labels(split), dtype=np.float64)[:, task]
            if kind != "regression":  # class ids, -1 where missing (as eval_batches gives)
                y = np.where(np.isfinite(y), y, -1).astype(np.int64)
            ref = Embeddings(ref.ids, ref.X, y)
        return ref, payoff.labelled_rows(ref, kind)

    labelled = {s: rows_of(s) for s in (train_name, test_name, val_name) if s is not None}

    cached = {} if features is None else features

    def get_features(name: str, split: str) -> Embeddings:
        if (name, split) not in cached:
            cached[(name, split)] = getters[name](split)
        return cached[(name, split)]

    sets: dict[str, tuple] = {}
    for name in getters:
        parts = []
        for split in (train_name, test_name, val_name):
            if split is None:
                parts.append(None)
                continue
            ref, keep = labelled[split]
            parts.append(payoff.take(_aligned(name, split, get_features(name, split), ref), keep))
        if test_name is None:  # one labelled split: the same seeded 80/20 hold-out in every set
            fit, held = holdout_rows(len(parts[0].X), ctx.seed)
            parts = [payoff.take(parts[0], fit), payoff.take(parts[0], held), parts[2]]
        sets[name] = tuple(parts)
    return sets, models, protocol, None if baseline is None else baseline.name


MEMO = "payoff_scores.json"
"""In the run folder: the scores ``sslkit pretrain``'s verdict fitted (control, baseline and
embeddings at 100% of the labels), by a digest of their inputs, so that ``sslkit evaluate``
of the same run and data does not fit them again."""


def _load_memo(run_dir: Path | None) -> dict[str, float]:
    import json

    path = None if run_dir is None else Path(run_dir) / MEMO
    try:
        return dict(json.loads(path.read_text())) if path is not None and path.is_file() else {}
    except (OSError, ValueError):  # unreadable: fit again
        return {}


def _save_memo(run_dir: Path | None, memo: dict[str, float]) -> None:
    import json

    if run_dir is None or not Path(run_dir).is_dir():
        return
    from sslkit.core.engine.rundir import atomic_write_text

    try:
        atomic_write_text(Path(run_dir) / MEMO, json.dumps(memo))
    except OSError:  # a read-only run folder: the scores are only not remembered
        pass


def assess(
    plugin: Plugin,
    ctx: TaskContext,
    control: TaskContext | None,
    *,
    fractions: tuple[float, ...] = payoff.FRACTIONS,
    seeds: int = payoff.SEEDS,
) -> dict[str, Any]:
    """The default task's label-efficiency rows and verdict (see :mod:`payoff`)."""
    start = time.perf_counter()
    data = ctx.data
    if not data.has_labels():
        return {"skipped": "no labels: the untrained control and the baselines need a task"}
    kind = data.task_kind()
    matrix = data.task_labels(data.split_names()[0])
    columns = [None] if matrix is None else list(range(np.shape(matrix)[1]))
    memo = _load_memo(ctx.run_dir)
    features: dict[tuple[str, str], Embeddings] = {}
    curves, why = [], ""
    for task in columns:
        sets, models, protocol, baseline = feature_sets(plugin, ctx, control, task, features)
        train, test = sets[payoff.PRETRAINED][:2]
        if len(train.X) < 2 or (kind != "regression" and len(np.unique(train.y)) < 2):
            why = "too few labelled training rows to compare (need two classes)"
        elif len(test.X) < 2 or (kind != "regression" and len(np.unique(test.y)) < 2):
            why = "the test rows hold fewer than two classes: nothing to score"
        else:
            curves.append(payoff.label_curve(sets, models, kind, protocol, fractions=fractions,
                                             seeds=seeds, seed=ctx.seed, memo=memo))  # fmt: skip
    _save_memo(ctx.run_dir, memo)
    if not curves:
        return {"skipped": why if len(columns) == 1 else f"no task could be scored: {why}"}
    metric, rows = payoff.mean_over_tasks(curves)
    out: dict[str, Any] = {
        "task": plugin.default_task,
        "metric": metric,
        "baseline": baseline,
        "probe": repr(protocol),
        "rows": rows,
        "verdict": payoff.verdict(metric, rows),
        "low_labels": payoff.low_label_lines(metric, rows),
    }
    if matrix is not None:
        out["tasks"] = len(curves)
        out["verdict"]["line"] += (
            f" (The mean over the {len(curves)} of {len(columns)} tasks whose train and test "
            "rows hold two classes.)"
            if kind != "regression"
            else f" (The mean over {len(curves)} of {len(columns)} tasks.)"
        )
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


def write_curve(section: dict[str, Any], folder: Path) -> list[str]:
    if "rows" not in section or not section.get("curve", True):  # a ranking task's own
        return []
    payoff.plot_curve(section["metric"], section["rows"], folder / payoff.CURVE_PNG)
    return [payoff.CURVE_PNG]
