"""Probes and monitors against hand-written references on synthetic embeddings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.core.evaluate.probes import (
    knn_probe,
    linear_probe,
    representation_stats,
    same_label_pairs,
)


def blobs(n: int, dim: int, classes: int, spread: float, seed: int) -> Embeddings:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 3
    y = rng.integers(0, classes, n)
    x = centers[y] + spread * rng.normal(size=(n, dim))
    return Embeddings(np.arange(n), x.astype(np.float32), y)


def test_linear_probe_separable_and_no_future_warning():
    train, test = blobs(400, 16, 4, 0.5, 0), blobs(200, 16, 4, 0.5, 0)
    test = Embeddings(test.ids, test.X + 0.0, test.y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the sklearn deprecations are handled
        out = linear_probe(train, test, "classification", seed=0)
    assert out["accuracy"] > 0.97
    assert out["cv_folds"] == 5
    assert out["C"] > 0


def test_linear_probe_chance_on_random_labels():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 8)).astype(np.float32)
    y = rng.integers(0, 2, 600)
    out = linear_probe(
        Embeddings(np.arange(400), x[:400], y[:400]),
        Embeddings(np.arange(200), x[400:], y[400:]),
    )
    assert 0.35 < out["accuracy"] < 0.65  # labels carry no signal: near chance
    assert 0.35 < out["roc_auc"] < 0.65


def test_ridge_probe_recovers_linear_target():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 10)).astype(np.float32)
    w = rng.normal(size=10)
    y = x @ w + 0.01 * rng.normal(size=500)
    out = linear_probe(
        Embeddings(np.arange(400), x[:400], y[:400]),
        Embeddings(np.arange(100), x[400:], y[400:]),
        "regression",
    )
    assert out["r2"] > 0.99
    assert out["rmse"] < 0.1


def reference_knn(train: Embeddings, test: Embeddings, k: int, t: float) -> np.ndarray:
    a = train.X / np.linalg.norm(train.X, axis=1, keepdims=True)
    b = test.X / np.linalg.norm(test.X, axis=1, keepdims=True)
    sims = b @ a.T
    preds = []
    for row in sims:
        top = np.argsort(-row, kind="stable")[:k]
        votes: dict[int, float] = {}
        for j in top:
            votes[int(train.y[j])] = votes.get(int(train.y[j]), 0.0) + np.exp(row[j] / t)
        preds.append(max(votes, key=votes.get))
    return np.array(preds)


def test_knn_probe_matches_reference():
    train, test = blobs(300, 8, 5, 2.5, 3), blobs(100, 8, 5, 2.5, 3)
    test = Embeddings(test.ids, test.X[::-1].copy(), test.y[::-1].copy())
    out = knn_probe(train, test, ks=(5, 20), temperature=0.07)
    for k in (5, 20):
        expected = np.mean(reference_knn(train, test, k, 0.07) == test.y)
        assert out[f"accuracy@{k}"] == pytest.approx(expected)
    assert 0.3 < out["accuracy@20"] < 1.0  # overlapping blobs: not trivial


def test_knn_leave_one_out_excludes_the_query_itself():
    # every label occurs once: with itself as neighbour accuracy would be 1, without it 0
    x = np.random.default_rng(4).normal(size=(50, 6)).astype(np.float32)
    out = knn_probe(Embeddings(np.arange(50), x, np.arange(50)), None, ks=(3,))
    assert out["accuracy@3"] == 0.0
    assert "leave-one-out" in out["protocol"]


def test_knn_regression_weighted_mean():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32)
    y = np.array([1.0, 3.0, 100.0])
    out = knn_probe(
        Embeddings(np.arange(3), x, y),
        Embeddings(np.arange(1), np.array([[1, 0]], np.float32), np.array([2.0])),
        "regression",
        ks=(2,),
        temperature=1.0,
    )
    s = np.array([1.0, 0.9 / np.hypot(0.9, 0.1)])
    w = np.exp(s)
    pred = (w * y[:2]).sum() / w.sum()
    assert out["rmse@2"] == pytest.approx(abs(pred - 2.0), rel=1e-4)  # float32 similarities


def test_representation_stats_collapse_and_health():
    rng = np.random.default_rng(5)
    healthy = Embeddings(np.arange(2000), rng.normal(size=(2000, 32)).astype(np.float32))
    collapsed = Embeddings(
        np.arange(2000), (rng.normal(size=(2000, 1)) * np.ones((1, 32)) + 5).astype(np.float32)
    )
    h, c = representation_stats(healthy), representation_stats(collapsed)
    assert h["rankme"] > 28  # isotropic: close to the dimension
    assert c["rankme"] < 2.5  # every row on one line
    assert c["embedding_std"] < 0.01 < h["embedding_std"]
    assert "alignment" not in h  # no labels: no positives
    # uniformity against its definition, log E exp(-2 ||u - v||^2), on normalised rows
    u = healthy.X[:300] / np.linalg.norm(healthy.X[:300], axis=1, keepdims=True)
    d2 = ((u[:, None] - u[None]) ** 2).sum(-1)[np.triu_indices(300, 1)]
    ref = np.log(np.mean(np.exp(-2 * d2)))
    small = representation_stats(Embeddings(np.arange(300), healthy.X[:300]))
    assert small["uniformity"] == pytest.approx(ref, abs=1e-4)


def test_alignment_uses_same_label_pairs():
    emb = blobs(500, 8, 3, 0.05, 6)
    out = representation_stats(emb)
    assert out["alignment"] < 0.01  # tight clusters: same-label rows nearly coincide
    a, b = same_label_pairs(emb.y, 1000, 0)
    assert np.all(emb.y[a] == emb.y[b]) and np.all(a != b)
