"""The downstream probe of tabular embeddings."""

from __future__ import annotations

import numpy as np


def _noisy(n: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, d))
    X[:, 0] += 1.5 * (2 * y - 1)  # one informative column among d - 1 noise columns
    return X.astype(np.float32), y


def test_probe_picks_strong_regularisation_when_dimensions_outnumber_the_signal():
    from sklearn.linear_model import LogisticRegression

    from sslkit.tabular.tasks import _standardise, fit_probe

    Xtr, ytr = _noisy(3000, 400, 0)
    Xte, yte = _noisy(2000, 400, 1)
    out = fit_probe(Xtr, ytr, Xte, yte, "classification", seed=0)
    assert out["C"] <= 0.1
    a, b = _standardise(Xtr, Xte)
    loose = LogisticRegression(C=10.0, max_iter=300).fit(a, ytr)
    assert out["accuracy"] > float((loose.predict(b) == yte).mean()) + 0.015


def test_probe_keeps_c_1_on_a_small_train_split():
    from sslkit.tabular.tasks import fit_probe

    Xtr, ytr = _noisy(200, 5, 0)
    Xte, yte = _noisy(100, 5, 1)
    assert fit_probe(Xtr, ytr, Xte, yte, "classification", seed=0)["C"] == 1.0
