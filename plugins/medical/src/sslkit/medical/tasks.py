"""The default downstream task on frozen image embeddings: classification, as MedMNIST reports
it (ACC and AUC on the test split).

A logistic probe (core's :func:`~sslkit.core.evaluate.logistic.fit_logistic` with
:data:`MEDICAL_PROBE`: standardised features, ``C`` with the best log-loss on the val split)
is fitted on the train images. Binary: ACC at 0.5 and ROC-AUC; multi-class: ACC and the
macro one-vs-rest ROC-AUC; multi-label: one probe per finding, ACC and ROC-AUC averaged over
the findings (MedMNIST's ``getACC``/``getAUC``). The fine-tuning and segmentation tasks are in
:mod:`sslkit.medical.finetune` and :mod:`sslkit.medical.segment`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.logistic import VAL_SPLIT_PROBE, fit_logistic

MEDICAL_PROBE = VAL_SPLIT_PROBE
"""Core's probe for data with a val split: standardised features, C with the best log-loss on
MedMNIST's val split."""


def scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """MedMNIST's ACC and AUC of class probabilities ``proba`` ``(n, classes)`` for class ids
    ``y``: binary ACC at 0.5 and ROC-AUC of class 1; multi-class ACC of the argmax and macro
    one-vs-rest ROC-AUC."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(np.int64)
    acc = float((proba.argmax(1) == y).mean())
    present = np.unique(y)
    if proba.shape[1] == 2:
        auc = float(roc_auc_score(y, proba[:, 1])) if len(present) == 2 else float("nan")
    elif len(present) == proba.shape[1]:
        p = proba / proba.sum(1, keepdims=True)
        auc = float(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    else:
        auc = float("nan")
    return {"acc": acc, "auc": auc}


def multilabel_scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Multi-label ACC (0.5 threshold, averaged over findings) and mean ROC-AUC over the findings
    with both values present; rows with a missing value of a finding are left out of it."""
    from sklearn.metrics import roc_auc_score

    accs, aucs = [], []
    for k in range(y.shape[1]):
        keep = np.isfinite(y[:, k])
        yk, pk = y[keep, k].astype(np.int64), proba[keep, k]
        accs.append(float(((pk > 0.5) == yk).mean()))
        if len(np.unique(yk)) == 2:
            aucs.append(float(roc_auc_score(yk, pk)))
    return {"acc": float(np.mean(accs)), "auc": float(np.mean(aucs)) if aucs else float("nan")}


def _probe_column(ctx: Any, X: dict[str, np.ndarray], col: int) -> dict[str, np.ndarray] | None:
    """Fit one probe on label column ``col``; the class probabilities of every split."""
    data = ctx.data
    ys = {s: data.labels[data.split_index(s), col] for s in X}
    keep = {s: np.isfinite(y) for s, y in ys.items()}
    ytr = ys["train"][keep["train"]].astype(np.int64)
    if len(np.unique(ytr)) < 2:
        return None
    val = None
    if "val" in X and len(np.unique(ys["val"][keep["val"]])) >= 2:
        val = (X["val"][keep["val"]], ys["val"][keep["val"]].astype(np.int64))
    probe = fit_logistic(X["train"][keep["train"]], ytr, MEDICAL_PROBE, ctx.seed, val=val)
    classes = [int(c) for c in probe.classes_]
    out = {}
    for s in X:
        p = probe.predict_proba(X[s])
        full = np.zeros((len(p), max(classes) + 1))
        full[:, classes] = p
        out[s] = full
    out["C"] = np.array(probe.C)
    return out


def classification(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    if not data.has_labels():
        return {
            "skipped": "the images have no labels (a .npz with *_labels, or a manifest label column)"
        }
    splits = data.split_names()
    if "train" not in splits:
        return {"skipped": f"classification needs a train split, not {splits}"}
    X = {s: ctx.embeddings(s).X for s in splits}
    out: dict[str, Any] = {"kind": data.kind, "probe": MEDICAL_PROBE.describe()}
    eval_splits = [s for s in ("val", "test") if s in X]
    if data.kind == "multilabel":
        fits = [_probe_column(ctx, X, k) for k in range(data.labels.shape[1])]
        for s in eval_splits:
            y = data.labels[data.split_index(s)]
            proba = np.stack(
                [f[s][:, 1] if f is not None else np.full(len(y), 0.5) for f in fits], axis=1
            )
            res = multilabel_scores(y, proba)
            out.update({f"{s}_{k}" if s != "test" else k: v for k, v in res.items()})
        return out
    fit = _probe_column(ctx, X, 0)
    if fit is None:
        return {"skipped": "the train split holds one class only"}
    out["C"] = float(fit["C"])
    for s in eval_splits:
        y = data.labels[data.split_index(s), 0]
        keep = np.isfinite(y)
        res = scores(y[keep], fit[s][keep])
        out.update({f"{s}_{k}" if s != "test" else k: v for k, v in res.items()})
    out["n_train"] = float(len(data.split_index("train")))
    return out
