"""One logistic-regression probe for every domain; each plugin declares its protocol.

A :class:`ProbeProtocol` says how ``C`` is chosen (k-fold stratified CV on the train split, a
seeded held-out fraction of it, or a given validation split; scored by accuracy or log-loss)
and how the features are prepared (standardised or not, in which dtype). :func:`fit_logistic`
fits scikit-learn's ``LogisticRegression`` with it; :func:`logistic_probe` scores it on a test
split. A protocol written out with plain scikit-learn (``GridSearchCV`` with a
``StratifiedKFold`` or ``PredefinedSplit``, ``cross_val_score``, a ``Pipeline`` with
``StandardScaler``) gives the same ``C`` and the same predictions
(``core/tests/evaluate/test_logistic.py`` checks each plugin's).

Importing this module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sslkit.core.errors import DataError

if TYPE_CHECKING:
    from sslkit.core.evaluate.embeddings import Embeddings


@dataclass(frozen=True)
class ProbeProtocol:
    """How a logistic probe chooses C and prepares features; each plugin declares its own."""

    cs: tuple[float, ...]
    """The C grid, searched in this order; the first best C wins a tie."""
    select: Literal["cv", "holdout", "val"]
    """``"cv"``: k-fold stratified CV on train (shuffled, seeded); ``"holdout"``: a seeded
    held-out fraction of train (``rng(seed).random(n) < holdout``); ``"val"``: a given
    validation split (``"cv"`` when none is given). The best C is then refitted on all of train
    (with ``"val"`` the model fitted on train with the best C is the probe)."""
    folds: int = 5
    """For ``"cv"``: capped by the smallest class count; below 2, C = 1 without a search."""
    holdout: float = 0.1
    """For ``"holdout"``: the held-out fraction of train."""
    scoring: Literal["accuracy", "log_loss"] = "accuracy"
    """What chooses C (the mean over folds of scikit-learn's ``accuracy`` / ``neg_log_loss``)."""
    standardise: bool = True
    """Centre and scale every feature by the train rows' mean and std (the probe applies it to
    the rows it predicts)."""
    solver: str = "lbfgs"
    max_iter: int = 1000
    min_holdout: int = 1
    """For ``"holdout"``: fewer held-out rows than this, or rows of a class only in the
    held-out part: C = 1 without a search."""
    holdout_from_rows: int | None = None
    """For ``"cv"``: on at least this many train rows, ``"holdout"`` instead (one fit per C,
    not ``folds``)."""
    scale_in_folds: bool = False
    """Standardise with the statistics of each fold's fitting rows (a ``Pipeline`` in the
    search) instead of those of the whole train split."""
    scaler: Literal["sklearn", "numpy"] = "sklearn"
    """``"sklearn"``: ``StandardScaler`` (statistics in float64, zero-variance features kept
    as they are); ``"numpy"``: numpy's mean and std in the features' dtype, std < 1e-8 taken as
    1, the result in float32."""
    dtype: str | None = None
    """Cast the features to this dtype first (``"float64"``); ``None`` keeps theirs."""
    warm_start: bool = False
    """Fit the grid in its order, each C started from the previous solution, and the refit
    from the selection fits' mean solution at the best C (like ``LogisticRegressionCV``):
    faster, and equal to cold fits up to the solver's tolerance."""
    max_train_rows: int | None = None
    """:func:`logistic_probe` fits on at most this many train rows (a seeded sample)."""

    def describe(self, rows: int | None = None) -> str:
        """One line for reports: how C is chosen (on ``rows`` train rows) and on what features."""
        select = self.select
        if select == "cv" and self.holdout_from_rows and rows and rows >= self.holdout_from_rows:
            select = "holdout"
        how = {
            "cv": f"{self.folds}-fold stratified CV on train",
            "holdout": f"a seeded held-out {self.holdout:.0%} of train",
            "val": "the validation split",
        }[select]
        if select == "cv" and self.holdout_from_rows and rows is None:
            how += f" (a held-out {self.holdout:.0%} from {self.holdout_from_rows:,} rows on)"
        grid = ", ".join(f"{c:g}" for c in self.cs)
        scale = "standardised" if self.standardise else "unscaled"
        return f"{scale} features, C in ({grid}) by {self.scoring} on {how}, then refit"


DEFAULT_PROBE = ProbeProtocol(
    cs=tuple(float(c) for c in np.logspace(-4, 3, 8)),
    select="cv",
    folds=5,
    scoring="log_loss",
    max_iter=2000,
    holdout_from_rows=10_000,
    warm_start=True,
    max_train_rows=100_000,
)
"""Core's protocol (the generic ``linear-probe`` task): standardised, C in 1e-4 .. 1e3 by
log-loss, 5-fold stratified CV below 10,000 train rows and one seeded held-out tenth from
there on, warm-started along the grid; at most 100,000 train rows."""

VAL_SPLIT_PROBE = ProbeProtocol(
    cs=(0.001, 0.01, 0.1, 1.0, 10.0),
    select="val",
    folds=5,
    scoring="log_loss",
    standardise=True,
    solver="lbfgs",
    max_iter=2000,
)
"""For data sets that come with a validation split (scaffold-split molecules, MedMNIST):
standardised features, C with the best log-loss on the val split (5-fold stratified CV on
train when there is none)."""


class FittedProbe:
    """A fitted logistic probe: it prepares the rows it predicts as the protocol says."""

    def __init__(
        self,
        model: Any,
        protocol: ProbeProtocol,
        C: float,
        score: float,
        folds: int,
        scaler: Callable[[np.ndarray], np.ndarray] | None,
        converged: bool,
    ):
        self.model, self.protocol, self.C = model, protocol, float(C)
        self.score = score
        """The best C's selection score (mean accuracy, or mean negative log-loss); NaN
        without a search."""
        self.folds = folds
        """Fits per C in the search (k folds, 1 held-out part or validation split, 0 none)."""
        self.converged = converged
        self._scaler = scaler

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = _cast(X, self.protocol)
        return X if self._scaler is None else self._scaler(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(self.transform(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.transform(X))


def _cast(X: np.ndarray, p: ProbeProtocol) -> np.ndarray:
    return np.asarray(X, dtype=p.dtype) if p.dtype else np.asarray(X)


def _scaler(X: np.ndarray, p: ProbeProtocol) -> Callable[[np.ndarray], np.ndarray]:
    """The standardisation fitted on ``X`` (rows in, standardised rows out)."""
    if p.scaler == "numpy":
        mean, std = X.mean(0, keepdims=True), X.std(0, keepdims=True)
        std[std < 1e-8] = 1.0
        return lambda Z: ((Z - mean) / std).astype(np.float32)
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(X).transform


def _splits(y: np.ndarray, p: ProbeProtocol, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (fit rows, scoring rows) of the search on train; empty: no search (C = 1)."""
    classes, counts = np.unique(y, return_counts=True)
    select = p.select
    if select == "cv" and p.holdout_from_rows and len(y) >= p.holdout_from_rows:
        select = "holdout"
    if select == "holdout":
        held = np.random.default_rng(seed).random(len(y)) < p.holdout
        if held.sum() < max(1, p.min_holdout) or len(np.unique(y[~held])) < len(classes):
            return []
        return [(np.flatnonzero(~held), np.flatnonzero(held))]
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(p.folds, counts.min()))
    if folds < 2:
        return []
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


_FITTED: dict[bytes, FittedProbe] = {}
_FITTED_MAX = 32
SMALL_FIT = 1 << 24
"""Fits on at most this many feature values (rows x columns) use one BLAS thread."""


def digest(*parts: Any) -> bytes:
    """A digest of arrays (dtype, shape and bytes) and plain values."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
        else:
            h.update(repr(part).encode())
    return h.digest()


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    protocol: ProbeProtocol,
    seed: int = 0,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> FittedProbe:
    """Choose C on train (or on ``val``) as ``protocol`` says, then fit on all of ``X``.

    A fit is a pure function of its inputs, so one with the same rows, labels, protocol and
    seed as an earlier one in this process returns that probe: a report's default task and its
    "did pretraining pay?" curve fit the 100% probe once (the last 32 fits are kept)."""
    from threadpoolctl import threadpool_limits

    X, y = _cast(X, protocol), np.asarray(y)
    key = digest(X, y, protocol, seed, *(val if val is not None else (None,)))
    if key not in _FITTED:
        if len(_FITTED) >= _FITTED_MAX:
            _FITTED.pop(next(iter(_FITTED)))
        # one BLAS thread below SMALL_FIT values: lbfgs multiplies a matrix by a vector a few
        # hundred times, too little work per product to share; on a busy machine the threads'
        # waiting made a 3,256 x 1,024 fit 6x slower (46 s against 7.2 s)
        limit = 1 if X.size <= SMALL_FIT else None
        with threadpool_limits(limits=limit, user_api="blas"):
            _FITTED[key] = _fit_logistic(X, y, protocol, seed, val)
    return _FITTED[key]


def _fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    protocol: ProbeProtocol,
    seed: int,
    val: tuple[np.ndarray, np.ndarray] | None,
) -> FittedProbe:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import get_scorer

    p = protocol
    X, y = _cast(X, p), np.asarray(y)
    if len(np.unique(y)) < 2:
        raise DataError(f"a logistic probe needs 2 or more classes in train, found {len(set(y))}")
    scorer = get_scorer("neg_log_loss" if p.scoring == "log_loss" else "accuracy")
    scaler = _scaler(X, p) if p.standardise else None
    Xs = X if scaler is None else scaler(X)

    def new(c: float) -> Any:
        return LogisticRegression(
            C=c, solver=p.solver, max_iter=p.max_iter, random_state=seed, warm_start=p.warm_start
        )

    use_val = p.select == "val" and val is not None and len(val[1]) > 0
    if use_val:
        Xv = _cast(val[0], p)
        parts = [(Xs, y, Xv if scaler is None else scaler(Xv), np.asarray(val[1]))]
    else:
        parts = []
        for fit_rows, score_rows in _splits(y, p, seed):
            if p.standardise and p.scale_in_folds:
                fold_scaler = _scaler(X[fit_rows], p)
                a, b = fold_scaler(X[fit_rows]), fold_scaler(X[score_rows])
            else:
                a, b = Xs[fit_rows], Xs[score_rows]
            parts.append((a, y[fit_rows], b, y[score_rows]))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        best_c, best, kept = 1.0, math.nan, []
        if parts:
            models = [new(p.cs[0]) for _ in parts]  # warm start: one path per part
            scores, fits = [], []
            for c in p.cs:
                per_part, fit = [], []
                for i, (a, ya, b, yb) in enumerate(parts):
                    m = models[i] if p.warm_start else new(c)
                    m.set_params(C=c).fit(a, ya)
                    per_part.append(scorer(m, b, yb))
                    fit.append((m.coef_.copy(), m.intercept_.copy()) if p.warm_start else m)
                scores.append(float(np.mean(per_part)))
                fits.append(fit)
            k = int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))
            best_c, best, kept = float(p.cs[k]), scores[k], fits[k]
        if use_val and kept and not p.warm_start:
            model = kept[0]  # fitted on all of train with the best C: a refit would repeat it
        else:
            model = new(best_c)
            if kept and p.warm_start:  # start from the search's solutions (LogisticRegressionCV)
                model.coef_ = np.mean([c for c, _ in kept], axis=0)
                model.intercept_ = np.mean([i for _, i in kept], axis=0)
            model.fit(Xs, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return FittedProbe(model, p, best_c, best, len(parts), scaler, converged)


def logistic_probe(
    train: Embeddings,
    test: Embeddings,
    protocol: ProbeProtocol,
    seed: int = 0,
    val: Embeddings | None = None,
) -> dict[str, float]:
    """The probe fitted on ``train`` (C chosen as ``protocol`` says, on ``val`` when it says
    ``"val"``) and scored on ``test``: accuracy, macro-F1, ROC-AUC (two classes, both in
    test), C, train_rows, test_rows. A train split with one class is a :class:`DataError`."""
    return probe_metrics(train, test, protocol, seed, val)[0]


def probe_metrics(
    train: Embeddings,
    test: Embeddings,
    protocol: ProbeProtocol,
    seed: int = 0,
    val: Embeddings | None = None,
) -> tuple[dict[str, float], FittedProbe]:
    """:func:`logistic_probe`'s metrics and the fitted probe."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    X, y = train.X, np.asarray(train.y)
    found = len(np.unique(y))
    if found < 2:
        raise DataError(f"a logistic probe needs 2 or more classes in train, found {found}")
    limit = protocol.max_train_rows
    if limit and len(y) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), limit, replace=False))
        X, y = X[keep], y[keep]
    held = None if val is None else (val.X, np.asarray(val.y))
    probe = fit_logistic(X, y, protocol, seed, held)
    y_test = np.asarray(test.y)
    Xt = probe.transform(test.X)
    pred, proba = probe.model.predict(Xt), probe.model.predict_proba(Xt)
    out = {
        "accuracy": float(accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, average="macro", zero_division=0)),
    }
    if len(probe.classes_) == 2 and len(np.unique(y_test)) == 2:
        out["roc_auc"] = float(roc_auc_score(y_test == probe.classes_[1], proba[:, 1]))
    out.update(C=probe.C, train_rows=float(len(y)), test_rows=float(len(y_test)))
    return out, probe
