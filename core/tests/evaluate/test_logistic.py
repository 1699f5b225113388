"""Core's logistic probe against each protocol written out with plain scikit-learn.

For every plugin's protocol (tabular, graphs with and without a validation split, events) and
core's own, the probe must choose the same C and give the same test accuracy as the protocol
written by hand (``GridSearchCV`` with ``PredefinedSplit`` / ``StratifiedKFold``,
``cross_val_score``, a ``Pipeline``), on seeded synthetic data where the choice of C matters.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslkit.core.errors import DataError
from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.core.evaluate.logistic import (
    DEFAULT_PROBE,
    ProbeProtocol,
    fit_logistic,
    logistic_probe,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def noisy(n: int, seed: int, d: int = 40, classes: int = 3):
    """Labels from a weak linear signal spread over all ``d`` columns plus Gumbel noise, the
    columns at four scales: too little C underfits, too much fits the noise."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, classes)) / np.sqrt(d)
    X = rng.standard_normal((n, d))
    y = (3 * X @ W + rng.gumbel(size=(n, classes))).argmax(1)
    return (X * (1 + np.arange(d) % 4)).astype(np.float32), y


def data(n: int = 900, seed: int = 1, **kw):
    """The first ``n`` rows to fit on and 600 more to test on."""
    X, y = noisy(n + 600, seed, **kw)
    return X[:n], y[:n], X[n:], y[n:]


def accuracy(model, X, y) -> float:
    return float((model.predict(X) == y).mean())


def test_tabular_protocol_is_logistic_regression_cv_on_a_seeded_tenth():
    TABULAR = pytest.importorskip("sslkit.tabular.tasks").TABULAR_PROBE
    Xtr, ytr, Xte, yte = data()
    # by hand: standardised (numpy, float32), a seeded tenth held out, accuracy, warm-started
    # along the grid and refitted from the best C's solution: LogisticRegressionCV
    mean, std = Xtr.mean(0, keepdims=True), Xtr.std(0, keepdims=True)
    std[std < 1e-8] = 1.0
    a, b = ((Xtr - mean) / std).astype(np.float32), ((Xte - mean) / std).astype(np.float32)
    held = np.random.default_rng(3).random(len(ytr)) < 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = LogisticRegressionCV(
            Cs=[0.01, 0.1, 1.0, 10.0],
            cv=[(np.flatnonzero(~held), np.flatnonzero(held))],
            max_iter=300,
            scoring="accuracy",
            random_state=3,
        ).fit(a, ytr)
    probe = fit_logistic(Xtr, ytr, TABULAR, seed=3)
    assert float(np.ravel(ref.C_)[0]) == probe.C
    assert probe.C not in (0.01, 10.0)  # not at the grid's ends: the choice matters
    assert probe.score == pytest.approx(float(np.max(np.mean(ref.scores_[0], axis=0))))
    assert accuracy(probe, Xte, yte) == accuracy(ref, b, yte)
    np.testing.assert_allclose(probe.predict_proba(Xte), ref.predict_proba(b), atol=1e-3)


def test_tabular_protocol_keeps_c_1_on_small_train():
    TABULAR = pytest.importorskip("sslkit.tabular.tasks").TABULAR_PROBE
    Xtr, ytr, _, _ = data(300)
    probe = fit_logistic(Xtr, ytr, TABULAR, seed=0)
    assert probe.C == 1.0 and probe.folds == 0 and np.isnan(probe.score)


def test_graphs_protocol_chooses_c_on_the_validation_split():
    GRAPHS = pytest.importorskip("sslkit.graphs.tasks").GRAPHS_PROBE
    X, y, Xte, yte = data()
    x = X.astype(np.float64)
    tr, va = np.arange(600), np.arange(600, 900)
    best_c, best = None, -1.0
    for c in (0.001, 0.01, 0.1, 1.0, 10.0, 100.0):  # by hand: unscaled float64, val accuracy
        acc = accuracy(LogisticRegression(C=c, max_iter=1000).fit(x[tr], y[tr]), x[va], y[va])
        if acc > best:
            best_c, best = c, acc
    ref = LogisticRegression(C=best_c, max_iter=1000).fit(x[tr], y[tr])
    probe = fit_logistic(X[tr], y[tr], GRAPHS, seed=0, val=(X[va], y[va]))
    assert (probe.C, probe.score) == (best_c, best)
    assert best_c not in (0.001, 100.0)
    assert accuracy(probe, Xte, yte) == accuracy(ref, Xte.astype(np.float64), yte)


def test_graphs_protocol_without_validation_is_4_fold_cv():
    GRAPHS = pytest.importorskip("sslkit.graphs.tasks").GRAPHS_PROBE
    X, y, Xte, yte = data(500)
    x = X.astype(np.float64)
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    best_c, best = None, -1.0
    for c in (0.001, 0.01, 0.1, 1.0, 10.0, 100.0):
        acc = float(cross_val_score(LogisticRegression(C=c, max_iter=1000), x, y, cv=cv).mean())
        if acc > best:
            best_c, best = c, acc
    ref = LogisticRegression(C=best_c, max_iter=1000).fit(x, y)
    probe = fit_logistic(X, y, GRAPHS, seed=3)
    assert (probe.C, probe.score, probe.folds) == (best_c, best, 4)
    assert best_c not in (0.001, 100.0)
    assert accuracy(probe, Xte, yte) == accuracy(ref, Xte.astype(np.float64), yte)


def test_events_protocol_is_a_scaled_pipeline_in_gridsearch_by_log_loss():
    EVENTS = pytest.importorskip("sslkit.events.tasks").EVENTS_PROBE
    Xtr, ytr, Xte, yte = data()
    pipe = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, solver="newton-cholesky")
    )
    search = GridSearchCV(
        pipe,
        {"logisticregression__C": (1e-3, 1e-2, 1e-1, 1.0, 10.0)},
        cv=StratifiedKFold(5, shuffle=True, random_state=3),
        scoring="neg_log_loss",
    ).fit(Xtr, ytr)
    probe = fit_logistic(Xtr, ytr, EVENTS, seed=3)
    assert search.best_params_["logisticregression__C"] == probe.C
    assert probe.C not in (1e-3, 10.0)
    # equal up to float rounding: the probe's small fits use one BLAS thread, the reference all
    assert probe.score == pytest.approx(search.best_score_, rel=1e-6)
    assert accuracy(probe, Xte, yte) == accuracy(search, Xte, yte)
    np.testing.assert_allclose(probe.predict_proba(Xte), search.predict_proba(Xte), rtol=1e-5)
    out = logistic_probe(
        Embeddings(np.arange(len(ytr)), Xtr, ytr),
        Embeddings(np.arange(len(yte)), Xte, yte),
        EVENTS,
        3,
    )
    assert out["accuracy"] == accuracy(search, Xte, yte) and out["C"] == probe.C


@pytest.mark.parametrize("n", [900, 12_000])
def test_default_protocol_is_logistic_regression_cv(n):
    """Core's protocol: 5-fold CV by log-loss (LogisticRegressionCV), one seeded held-out
    tenth from 10,000 train rows on."""
    Xtr, ytr, Xte, yte = data(n)
    sc = StandardScaler().fit(Xtr)
    if n < 10_000:
        cv = StratifiedKFold(5, shuffle=True, random_state=3)
    else:
        held = np.random.default_rng(3).random(n) < 0.1
        cv = [(np.flatnonzero(~held), np.flatnonzero(held))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = LogisticRegressionCV(
            Cs=np.logspace(-4, 3, 8), cv=cv, max_iter=2000, scoring="neg_log_loss"
        ).fit(sc.transform(Xtr), ytr)
    probe = fit_logistic(Xtr, ytr, DEFAULT_PROBE, seed=3)
    assert float(np.ravel(ref.C_)[0]) == probe.C
    assert probe.folds == (5 if n < 10_000 else 1)
    assert n > 10_000 or probe.C not in (1e-4, 1e3)
    assert accuracy(probe, Xte, yte) == accuracy(ref, sc.transform(Xte), yte)


def split(X, y, cut):
    return Embeddings(np.arange(cut), X[:cut], y[:cut]), Embeddings(
        np.arange(len(y) - cut), X[cut:], y[cut:]
    )


@pytest.mark.parametrize("name", ["default", "tabular", "graphs", "events"])
def test_every_protocol_scores_separable_data_and_chance_on_shuffled_labels(name):
    protocol = {
        "default": lambda: DEFAULT_PROBE,
        "tabular": lambda: pytest.importorskip("sslkit.tabular.tasks").TABULAR_PROBE,
        "graphs": lambda: pytest.importorskip("sslkit.graphs.tasks").GRAPHS_PROBE,
        "events": lambda: pytest.importorskip("sslkit.events.tasks").EVENTS_PROBE,
    }[name]()
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 1600)
    X = rng.standard_normal((1600, 16)).astype(np.float32)
    X[:, 0] += 3.0 * (2 * y - 1)
    out = logistic_probe(*split(X, y, 1000), protocol, seed=0)
    assert out["accuracy"] > 0.97 and out["roc_auc"] > 0.99 and out["macro_f1"] > 0.97
    assert (out["train_rows"], out["test_rows"]) == (1000.0, 600.0)
    shuffled = rng.permutation(y)
    out = logistic_probe(*split(X, shuffled, 1000), protocol, seed=0)
    assert 0.42 < out["accuracy"] < 0.58
    assert 0.42 < out["roc_auc"] < 0.58


def test_a_single_class_is_a_data_error():
    X = np.zeros((20, 3), np.float32)
    train = Embeddings(np.arange(20), X, np.zeros(20, int))
    with pytest.raises(DataError, match="2 or more classes"):
        logistic_probe(train, train, DEFAULT_PROBE)


def test_a_class_with_one_row_fits_c_1_without_a_search():
    X, y, _, _ = data(200)
    y[:] = np.where(y == 2, 1, y)
    y[0] = 2  # one row of class 2: no stratified fold possible
    probe = fit_logistic(X, y, ProbeProtocol(cs=(0.1, 10.0), select="cv"))
    assert probe.C == 1.0 and probe.folds == 0


def test_max_train_rows_samples_train():
    Xtr, ytr, Xte, yte = data()
    p = ProbeProtocol(cs=(1.0,), select="cv", folds=2, max_train_rows=300)
    out = logistic_probe(split(Xtr, ytr, 900)[0], split(Xte, yte, 600)[0], p)
    assert out["train_rows"] == 300.0


def test_importing_the_module_imports_neither_torch_nor_sklearn():
    code = (
        "import sys, sslkit.core.evaluate.logistic as m; "
        "print(sorted(k for k in ('torch', 'sklearn') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_convergence_warning_leaks_and_probe_records_it():
    Xtr, ytr, _, _ = data(400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        probe = fit_logistic(Xtr, ytr, ProbeProtocol(cs=(1e3,), select="cv", max_iter=2))
    assert not probe.converged


def test_the_same_fit_twice_is_fitted_once():
    """A report's default task and its "did pretraining pay?" curve share the 100% fit."""
    Xtr, ytr, _, _ = data()
    first = fit_logistic(Xtr, ytr, DEFAULT_PROBE, seed=3)
    assert fit_logistic(Xtr.copy(), ytr.copy(), DEFAULT_PROBE, seed=3) is first
    assert fit_logistic(Xtr, ytr, DEFAULT_PROBE, seed=4) is not first
    other = Xtr.copy()
    other[0, 0] += 1.0
    assert fit_logistic(other, ytr, DEFAULT_PROBE, seed=3) is not first
