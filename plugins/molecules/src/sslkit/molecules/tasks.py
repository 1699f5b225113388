"""Downstream tasks on frozen molecule embeddings.

- ``property_prediction`` (the default task): the data's split (scaffold by default), one
  probe per task fitted on the train molecules with a label for it: core's logistic probe
  with :data:`MOLECULES_PROBE` (``C`` chosen on the val molecules) for classification,
  ROC-AUC on the test molecules averaged over the tasks whose test molecules hold both classes
  (missing labels ignored, as Hu et al.'s ``eval``); core's ridge probe (``alpha`` by
  leave-one-out) for regression, RMSE averaged over tasks. Also the val split's score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.core.evaluate.logistic import VAL_SPLIT_PROBE, fit_logistic

MOLECULES_PROBE = VAL_SPLIT_PROBE
"""The molecules probe: standardised features, C with the best log-loss on the val split
(the scaffold split's model-selection molecules; 5-fold stratified CV on train without one)."""


def _task_rows(data: Any, split: str, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions within the split (in ``eval_batches`` order) with a label for task ``t``,
    and those labels."""
    y = data.labels[data.split_index(split), t]
    keep = np.flatnonzero(np.isfinite(y))
    return keep, y[keep]


def _classify(ctx: Any, t: int, X: dict[str, np.ndarray]) -> dict[str, float] | None:
    from sklearn.metrics import roc_auc_score

    data = ctx.data
    tr, ytr = _task_rows(data, "train", t)
    if len(np.unique(ytr)) < 2:
        return None
    val = None
    if "val" in X:
        va, yva = _task_rows(data, "val", t)
        if len(np.unique(yva)) == 2:
            val = (X["val"][va], yva.astype(np.int64))
    probe = fit_logistic(X["train"][tr], ytr.astype(np.int64), MOLECULES_PROBE, ctx.seed, val=val)
    out = {"C": probe.C}
    for split in ("val", "test"):
        if split not in X:
            continue
        rows, y = _task_rows(data, split, t)
        if len(np.unique(y)) == 2:
            p = probe.predict_proba(X[split][rows])[:, list(probe.classes_).index(1.0)]
            out[f"{split}_roc_auc"] = float(roc_auc_score(y, p))
    return out


def _regress(ctx: Any, t: int, X: dict[str, np.ndarray]) -> dict[str, float] | None:
    from sslkit.core.evaluate.probes import linear_probe

    data = ctx.data
    tr, ytr = _task_rows(data, "train", t)
    if len(ytr) < 2:
        return None
    train = Embeddings(tr, X["train"][tr], ytr)
    out: dict[str, float] = {}
    for split in ("val", "test"):
        if split not in X:
            continue
        rows, y = _task_rows(data, split, t)
        if len(y) >= 2:
            res = linear_probe(train, Embeddings(rows, X[split][rows], y), "regression", ctx.seed)
            out[f"{split}_rmse"], out["alpha"] = res["rmse"], res["alpha"]
    return out


def property_prediction(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    if data.labels is None:
        return {"skipped": "the molecules have no labels (set data.labels)"}
    splits = data.split_names()
    if "train" not in splits or "test" not in splits:
        return {"skipped": f"property prediction needs train and test splits, not {splits}"}
    X = {s: ctx.embeddings(s).X for s in splits}
    kind = data.task_kind()
    fit = _regress if kind == "regression" else _classify
    per_task = {name: fit(ctx, t, X) for t, name in enumerate(data.tasks)}
    scored = {k: v for k, v in per_task.items() if v}
    metric = "rmse" if kind == "regression" else "roc_auc"
    out: dict[str, Any] = {}
    for split in ("test", "val"):
        values = [v[f"{split}_{metric}"] for v in scored.values() if f"{split}_{metric}" in v]
        if values:
            out[f"{split}_{metric}" if split == "val" else metric] = float(np.mean(values))
    out.update(
        tasks=float(len(data.tasks)),
        tasks_scored=float(sum(f"test_{metric}" in v for v in scored.values())),
        split=str(data.facts.get("split", "")),
        n_train=float(len(data.split_index("train"))),
        n_test=float(len(data.split_index("test"))),
        probe="ridge (alpha by leave-one-out)"
        if kind == "regression"
        else MOLECULES_PROBE.describe(),
    )
    if len(data.tasks) > 1:
        for name, v in scored.items():
            if f"test_{metric}" in v:
                out[f"{metric}_{name}"] = v[f"test_{metric}"]
    return out
