"""Downstream tasks on frozen entity embeddings, against hand-crafted aggregates.

``entity``: predict the entity label (classification or regression) from the frozen
embeddings with a logistic (ridge) probe and with scikit-learn's HistGradientBoosting, and
the same two models on hand-crafted aggregates of the same events (counts, sums and means per
category value, recency, frequency, ...): the baseline the CoLES paper compares with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings, TaskContext
from sslkit.core.evaluate.logistic import ProbeProtocol, logistic_probe
from sslkit.events.data import DATE_FORMATS, PAD, UNK, entity_deltas, signed_log

TOP_VALUES = 20
"""Category values (the most frequent ones) that get their own count, sum and mean features."""


def aggregate_features(
    data: Any, split: str, top: int = TOP_VALUES
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-entity aggregates of one split's events: (ids, features (E, D) float64, names).

    - activity: number of events, tenure (first to last event), recency (last event to the
      reference time: the cutoff, else the end of the fitted data), frequency (events per time
      unit of tenure), mean and std of the gaps between events, active days (dates only);
    - per numeric field: sum, mean, std, min, max (raw values);
    - per categorical field: distinct values, and for the unknown bucket and each of the
      ``top`` most frequent values: the count, and the sum and mean of each numeric field.
    """
    pre = data.pre
    ids_all, feats_all = [], []
    names: list[str] = []
    for ids, chunk, codes in data.frames(split):
        e_n = len(ids)
        lengths = chunk.lengths()
        ent = np.repeat(np.arange(e_n), lengths)
        cols: dict[str, np.ndarray] = {}
        first = chunk.t[chunk.offsets[:-1].clip(max=max(len(chunk.t) - 1, 0))]
        last = chunk.t[(chunk.offsets[1:] - 1).clip(min=0)]
        cols["n_events"] = lengths.astype(np.float64)
        cols["tenure"] = last - first
        cols["recency"] = pre.ref - last
        cols["frequency"] = lengths / (cols["tenure"] + 1.0)
        gaps = entity_deltas(chunk)
        has_gap = np.ones(len(gaps), bool)
        has_gap[chunk.offsets[:-1][lengths > 0]] = False
        cols["gap_mean"], cols["gap_std"] = _mean_std(gaps, ent, e_n, has_gap)
        if pre.schema.time_format in DATE_FORMATS:
            day = np.floor(chunk.t).astype(np.int64)
            pairs = np.unique(np.stack([ent, day], 1), axis=0) if len(day) else np.empty((0, 2))
            cols["active_days"] = np.bincount(pairs[:, 0].astype(np.int64), minlength=e_n).astype(
                np.float64
            )
        nums = chunk.num_raw
        num_names = list(pre.schema.num_cols)
        for j, name in enumerate(num_names):
            x = nums[:, j]
            ok = np.isfinite(x)
            cols[f"{name}_sum"] = np.bincount(ent[ok], x[ok], minlength=e_n)
            cols[f"{name}_mean"], cols[f"{name}_std"] = _mean_std(x, ent, e_n, ok)
            cols[f"{name}_min"] = _extreme(x, ent, e_n, ok, np.minimum, np.inf)
            cols[f"{name}_max"] = _extreme(x, ent, e_n, ok, np.maximum, -np.inf)
        for i, field in enumerate(pre.cat_names()):
            code = codes[:, i]
            pairs = np.unique(np.stack([ent, code], 1), axis=0) if len(code) else np.empty((0, 2))
            cols[f"{field}_distinct"] = np.bincount(
                pairs[:, 0].astype(np.int64), minlength=e_n
            ).astype(np.float64)
            size = pre.cat_sizes()[i] - 1  # without the [MASK] code
            for value in range(UNK, min(size, UNK + 1 + top)):
                if value == PAD:
                    continue
                sel = code == value
                label = "unknown" if value == UNK else _value_name(pre, field, value)
                count = np.bincount(ent[sel], minlength=e_n).astype(np.float64)
                cols[f"{field}={label}_count"] = count
                for j, name in enumerate(num_names):
                    x = nums[:, j]
                    ok = sel & np.isfinite(x)
                    s = np.bincount(ent[ok], x[ok], minlength=e_n)
                    cols[f"{field}={label}_{name}_sum"] = s
                    cols[f"{field}={label}_{name}_mean"] = s / np.maximum(count, 1)
        names = list(cols)
        ids_all.append(ids)
        feats_all.append(np.stack([cols[n] for n in names], 1))
    X = np.concatenate(feats_all) if feats_all else np.empty((0, len(names)))
    return np.concatenate(ids_all) if ids_all else np.empty(0), np.nan_to_num(X), names


def _value_name(pre: Any, field: str, code: int) -> str:
    if field in pre.vocab:
        return str(pre.vocab[field][code - 2])
    return str(code - 2)


def _mean_std(
    x: np.ndarray, ent: np.ndarray, n: int, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    cnt = np.bincount(ent[ok], minlength=n).astype(np.float64)
    s = np.bincount(ent[ok], x[ok], minlength=n)
    s2 = np.bincount(ent[ok], x[ok] ** 2, minlength=n)
    mean = s / np.maximum(cnt, 1)
    var = np.maximum(s2 / np.maximum(cnt, 1) - mean**2, 0.0)
    return mean, np.sqrt(var)


def _extreme(x, ent, n, ok, op, init) -> np.ndarray:
    out = np.full(n, init)
    op.at(out, ent[ok], x[ok])
    return np.where(np.isfinite(out), out, 0.0)


# ---------------------------------------------------------------------------------------------
# models


def _hgb(train: Embeddings, test: Embeddings, kind: str, seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score

    if kind == "regression":
        model = HistGradientBoostingRegressor(random_state=seed)
        model.fit(train.X, train.y)
        pred = model.predict(test.X)
        return {
            "rmse": float(np.sqrt(mean_squared_error(test.y, pred))),
            "r2": float(r2_score(test.y, pred)),
        }
    model = HistGradientBoostingClassifier(random_state=seed)
    model.fit(train.X, train.y)
    out = {"accuracy": float(accuracy_score(test.y, model.predict(test.X)))}
    if len(model.classes_) == 2 and len(np.unique(test.y)) == 2:
        out["roc_auc"] = float(roc_auc_score(test.y, model.predict_proba(test.X)[:, 1]))
    return out


EVENTS_PROBE = ProbeProtocol(
    cs=(1e-3, 1e-2, 1e-1, 1.0, 10.0),
    select="cv",
    folds=5,
    scoring="log_loss",
    standardise=True,
    scale_in_folds=True,
    solver="newton-cholesky",
    max_iter=1000,
)
"""The entity probe's protocol (the published ROC-AUC was measured with it): standardised
features (a ``StandardScaler`` fitted inside each fold), C chosen by 5-fold stratified CV on
the train split scored by log-loss, newton-cholesky. The C grid stops at 10: with hundreds of
aggregate features and a few thousand entities, larger C only overfits and makes the solver
run to its iteration limit."""
RIDGE_ALPHAS = tuple(np.logspace(-2, 4, 13))


def _linear(train: Embeddings, test: Embeddings, kind: str, seed: int) -> dict[str, float]:
    """Core's logistic probe with ``EVENTS_PROBE`` (classes), or standardised ridge regression
    with ``alpha`` chosen by leave-one-out (a regression target)."""
    if kind == "regression":
        from sklearn.linear_model import RidgeCV
        from sklearn.metrics import mean_squared_error, r2_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
        model.fit(train.X, train.y)
        pred = model.predict(test.X)
        return {
            "rmse": float(np.sqrt(mean_squared_error(test.y, pred))),
            "r2": float(r2_score(test.y, pred)),
        }
    out = logistic_probe(train, test, EVENTS_PROBE, seed)
    return {k: out[k] for k in ("accuracy", "roc_auc") if k in out}


def _align(emb: Embeddings, ids: np.ndarray, X: np.ndarray) -> Embeddings:
    if len(ids) != len(emb.ids) or not np.array_equal(np.asarray(ids), np.asarray(emb.ids)):
        raise RuntimeError("aggregates and embeddings list different entities")
    return Embeddings(emb.ids, X, emb.y)


def entity(ctx: TaskContext) -> dict[str, Any]:
    """Entity classification / regression from frozen embeddings vs hand-crafted aggregates."""
    data, seed = ctx.data, ctx.seed
    kind = data.task_kind()
    train_e, test_e = ctx.embeddings("train"), ctx.embeddings("test")
    if len(train_e.X) == 0 or len(test_e.X) == 0:
        return {"skipped": "the train or test split has no labelled entity"}
    if kind == "classification" and len(np.unique(train_e.y)) < 2:
        return {"skipped": "the train split has a single class"}
    ids_tr, agg_tr, names = aggregate_features(data, "train")
    ids_te, agg_te, _ = aggregate_features(data, "test")
    # a monotone squashing keeps gradient boosting unchanged and helps the linear probe
    train_a, test_a = (
        _align(train_e, ids_tr, signed_log(agg_tr)),
        _align(test_e, ids_te, signed_log(agg_te)),
    )
    train_c = Embeddings(train_e.ids, np.hstack([train_e.X, train_a.X]), train_e.y)
    test_c = Embeddings(test_e.ids, np.hstack([test_e.X, test_a.X]), test_e.y)
    out: dict[str, Any] = {
        "train_entities": float(len(train_e.X)),
        "test_entities": float(len(test_e.X)),
        "aggregate_features": float(len(names)),
    }
    for feats, (tr, te) in {
        "embeddings": (train_e, test_e),
        "aggregates": (train_a, test_a),
        "combined": (train_c, test_c),
    }.items():
        models = {"hgb": _hgb} if feats == "combined" else {"logreg": _linear, "hgb": _hgb}
        for model_name, fit in models.items():
            for metric, value in fit(tr, te, kind, seed).items():
                out[f"{feats}_{model_name}_{metric}"] = value
    main = (
        "roc_auc"
        if "embeddings_hgb_roc_auc" in out
        else ("accuracy" if kind != "regression" else "r2")
    )
    best_e = max(out.get(f"embeddings_{m}_{main}", -np.inf) for m in ("logreg", "hgb"))
    best_a = max(out.get(f"aggregates_{m}_{main}", -np.inf) for m in ("logreg", "hgb"))
    out[f"best_embeddings_{main}"] = float(best_e)
    out[f"best_aggregates_{main}"] = float(best_a)
    out["protocol"] = (
        "fit on the train split, scored on the test split; logreg = logistic regression "
        "(standardised, C in 1e-3..10 by 5-fold CV), hgb = HistGradientBoosting defaults"
    )
    return out
