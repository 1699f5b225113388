"""Downstream tasks on frozen embeddings, as the papers report them.

- ``node_classification``: core's logistic probe with the protocol ``GRAPHS_PROBE`` on the
  embeddings as the encoder gives them (the linear evaluation of DGI, MVGRL and GraphMAE; GRACE's and BGRL's code
  L2-normalises them first; standardising them first cost GRACE about 1 point on Cora) on the
  public split (train/val/test masks, e.g. Planetoid's 140/500/1000) and on 20 random
  10%/10%/80% splits (mean and std); on a hypergraph, on each of its given train/test splits
  (mean and std).
- ``link_prediction``: ROC-AUC of held-out edges against as many sampled non-edges, scored by
  cosine similarity of the two end embeddings (pretrain with ``data.holdout_edges > 0``: the
  held-out edges are removed before pretraining).
- ``graph_classification``: graph-level data: an SVM on pooled embeddings, 10-fold stratified
  cross-validation with C chosen by an inner 5-fold search (GraphCL/InfoGraph protocol).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sslkit.core.evaluate.logistic import ProbeProtocol, fit_logistic

GRAPHS_PROBE = ProbeProtocol(
    cs=(0.001, 0.01, 0.1, 1.0, 10.0, 100.0),
    select="val",
    folds=4,
    scoring="accuracy",
    standardise=False,
    dtype="float64",
    solver="lbfgs",
    max_iter=1000,
)
"""The node-classification probe's protocol (the published Cora accuracies were measured with
it): the embeddings as the encoder gives them (unscaled: ``C`` is chosen per run, which
absorbs their scale; float64 for lbfgs), C with the best accuracy on the validation nodes, or
by 4-fold stratified CV on the training nodes when there are none (GRACE's grid search)."""


def probe_features(x: np.ndarray) -> np.ndarray:
    """The probe's input: the embeddings unscaled, in float64 (``GRAPHS_PROBE``)."""
    return np.asarray(x, dtype=np.float64)


def probe_accuracy(
    x: np.ndarray, y: np.ndarray, train, test, val=None, seed: int = 0
) -> dict[str, float]:
    """Test accuracy of core's logistic probe with ``GRAPHS_PROBE`` fitted on the ``train``
    nodes, ``C`` chosen on the ``val`` nodes (accuracy) or by 4-fold stratified CV on ``train``
    when there are none; ``val_acc`` is the best C's validation (or mean CV) accuracy."""
    train, test = np.asarray(train), np.asarray(test)
    held = None
    if val is not None and len(val):
        val = np.asarray(val)
        held = (x[val], y[val])
    clf = fit_logistic(x[train], y[train], GRAPHS_PROBE, seed, val=held)
    return {
        "test_acc": float((clf.predict(x[test]) == y[test]).mean()),
        "val_acc": clf.score,
        "C": clf.C,
    }


def random_splits(
    y: np.ndarray, count: int, seed: int, train: float = 0.1, val: float = 0.1
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``count`` random train/val/test splits of the labelled nodes (GRACE's 10/10/80)."""
    labelled = np.nonzero(np.asarray(y) >= 0)[0]
    out = []
    for i in range(count):
        p = np.random.default_rng(seed * 1000 + i).permutation(labelled)
        a, b = int(train * p.size), int((train + val) * p.size)
        out.append((p[:a], p[a:b], p[b:]))
    return out


def node_classification(ctx: Any, random_count: int = 20) -> dict[str, Any]:
    data = ctx.data
    kind = data.info.get("kind")
    if kind == "graphs":
        return {"skipped": "graph-level data: use the graph_classification task"}
    emb = ctx.embeddings("all")
    x = probe_features(emb.X)
    y = np.asarray(emb.y).astype(np.int64)
    seed = int(ctx.seed)
    out: dict[str, Any] = {"probe": "logistic regression (C chosen on validation or by CV)"}
    if kind == "hypergraph":
        accs = []
        for k in range(len(data.splits)):
            tr, te = data.split_nodes("train", k).numpy(), data.split_nodes("test", k).numpy()
            accs.append(probe_accuracy(x, y, tr, te, None, seed)["test_acc"])
        if accs:
            out.update(
                splits_test_acc_mean=float(np.mean(accs)),
                splits_test_acc_std=float(np.std(accs)),
                num_splits=float(len(accs)),
            )
            out["splits_test_acc"] = [float(a) for a in accs]
    masks = getattr(data, "masks", {}) or {}
    if kind == "graph" and {"train", "test"} <= set(masks):
        idx = {k: torch.nonzero(m).view(-1).numpy() for k, m in masks.items()}
        r = probe_accuracy(x, y, idx["train"], idx["test"], idx.get("val"), seed)
        out.update(public_test_acc=r["test_acc"], public_val_acc=r["val_acc"])
    if kind == "graph":
        accs = [
            probe_accuracy(x, y, tr, te, va, seed)["test_acc"]
            for tr, va, te in random_splits(y, random_count, int(data.info.get("split_seed", 0)))
        ]
        out.update(
            random_test_acc_mean=float(np.mean(accs)),
            random_test_acc_std=float(np.std(accs)),
            random_splits=float(random_count),
        )
    return out


def link_prediction(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    holdout = getattr(data, "holdout", None)
    if not holdout:
        return {
            "skipped": "no held-out edges: pretrain with data.holdout_edges=0.1 so that test "
            "edges are removed before training"
        }
    from sklearn.metrics import average_precision_score, roc_auc_score

    emb = ctx.embeddings("all")
    z = F.normalize(torch.as_tensor(emb.X), dim=1)
    pos, neg = holdout["pos"], holdout["neg"]
    s_pos = (z[pos[0]] * z[pos[1]]).sum(1).numpy()
    s_neg = (z[neg[0]] * z[neg[1]]).sum(1).numpy()
    scores = np.concatenate([s_pos, s_neg])
    labels = np.concatenate([np.ones_like(s_pos), np.zeros_like(s_neg)])
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "average_precision": float(average_precision_score(labels, scores)),
        "held_out_edges": float(pos.size(1)),
    }


def graph_classification(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    if data.info.get("kind") != "graphs":
        return {"skipped": "node-level data: use the node_classification task"}
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    emb = ctx.embeddings("all")
    x, y = emb.X, np.asarray(emb.y)
    counts = np.bincount(y)
    folds = int(min(10, counts[counts > 0].min()))
    if folds < 2:
        return {"skipped": "graph_classification needs at least 2 graphs of each class"}
    accs = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=int(ctx.seed)).split(x, y):
        sc = StandardScaler().fit(x[tr])
        inner = int(min(5, np.bincount(y[tr])[np.bincount(y[tr]) > 0].min()))
        clf = GridSearchCV(SVC(), {"C": [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]}, cv=max(2, inner))
        clf.fit(sc.transform(x[tr]), y[tr])
        accs.append(float((clf.predict(sc.transform(x[te])) == y[te]).mean()))
    return {"acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)), "folds": float(folds)}
