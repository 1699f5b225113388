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


def test_tjepa_protocol_scores_raw_embedding_and_joint_arms_with_the_same_mlp(table):
    """An embedding that holds the label, beside raw features where it is an XOR of two columns
    that 190 rows teach an MLP poorly: the embedding arms must score higher than the raw arm,
    each arm must equal ``fit_mlp`` on its own features, and the gains their differences."""
    from types import SimpleNamespace

    from sslkit.core.evaluate.embeddings import Embeddings
    from sslkit.tabular import from_dataframe
    from sslkit.tabular.tasks import fit_mlp, raw_features, tjepa_protocol

    data = from_dataframe(table, target="churn", id_column="customer_id")
    rng = np.random.default_rng(0)

    def oracle(split: str) -> Embeddings:
        _, y = raw_features(SimpleNamespace(data=data), split)
        X = np.concatenate([4.0 * y[:, None], rng.standard_normal((len(y), 7))], axis=1)
        return Embeddings(np.arange(len(y)), X.astype(np.float32), y)

    cache = {s: oracle(s) for s in data.split_names()}
    ctx = SimpleNamespace(data=data, seed=0, embeddings=cache.__getitem__)
    out = tjepa_protocol(ctx)

    Rtr, ytr = raw_features(ctx, "train")
    Rte, yte = raw_features(ctx, "test")
    raw = fit_mlp(Rtr, ytr, Rte, yte, "classification", 0)
    emb = fit_mlp(cache["train"].X, ytr, cache["test"].X, yte, "classification", 0)
    assert out["raw_accuracy"] == raw["accuracy"]
    assert out["embedding_accuracy"] == emb["accuracy"] == 1.0
    assert out["raw_embedding_accuracy"] > out["raw_accuracy"]
    assert out["accuracy"] == out["raw_embedding_accuracy"]
    assert out["gain_accuracy"] == out["raw_embedding_accuracy"] - out["raw_accuracy"]
    assert out["gain_embedding_accuracy"] == out["embedding_accuracy"] - out["raw_accuracy"]


def test_probe_stands_in_for_linear_probe_and_is_fitted_once():
    """The tabular plugin's ``linear-probe`` is its ``probe`` (TABULAR_PROBE), and a task
    context fits it once for both names (so do ``mlp`` and tjepa-protocol's embedding arm)."""
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.tabular.plugin import plugin

    assert plugin.tasks["linear-probe"].run == plugin.tasks["probe"].run
    ctx = TaskContext(None, None, None, None)  # type: ignore[arg-type]
    calls = []
    first = ctx.once("k", lambda: calls.append(1) or {"accuracy": 0.5})
    assert ctx.once("k", lambda: calls.append(1) or {}) is first and calls == [1]
