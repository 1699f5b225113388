"""Retrieval metrics against a brute-force reference written from the definitions."""

from __future__ import annotations

import numpy as np
import pytest

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.core.evaluate.retrieval import recall_ndcg, retrieval_metrics


def reference(q: Embeddings, g: Embeddings, ks, same: bool = False) -> dict[str, float]:
    qn = q.X / np.linalg.norm(q.X, axis=1, keepdims=True)
    gn = g.X / np.linalg.norm(g.X, axis=1, keepdims=True)
    out: dict[str, list[float]] = {}
    for i, row in enumerate(qn @ gn.T):
        order = np.argsort(-row, kind="stable")
        if same:
            order = order[order != i]
        rel = (g.y[order] == q.y[i]).astype(float)
        r = int(rel.sum())
        for k in ks:
            out.setdefault(f"recall@{k}", []).append(float(rel[:k].max() > 0))
            dcg = sum(rel[j] / np.log2(j + 2) for j in range(k))
            idcg = sum(1 / np.log2(j + 2) for j in range(min(k, r)))
            out.setdefault(f"ndcg@{k}", []).append(dcg / idcg)
        out.setdefault("precision@1", []).append(rel[0])
        # MAP@R (Musgrave et al. 2020): mean over the first R ranks of precision@i at hits
        hits = np.cumsum(rel[:r])
        out.setdefault("map@r", []).append(float(np.sum(hits / np.arange(1, r + 1) * rel[:r]) / r))
    return {k: float(np.mean(v)) for k, v in out.items()}


def data(n: int, seed: int, classes: int = 4) -> Embeddings:
    centers = np.random.default_rng(100).normal(size=(classes, 8))  # shared by every split
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    return Embeddings(
        np.arange(n), (centers[y] + 0.8 * rng.normal(size=(n, 8))).astype(np.float32), y
    )


def test_recall_ndcg_by_hand():
    # query label 1; neighbours' labels [0, 1, 1]; 2 relevant in the gallery
    out = recall_ndcg(np.array([[0, 1, 1]]), np.array([1]), np.array([2]), (1, 3))
    assert out["recall@1"] == 0.0 and out["recall@3"] == 1.0
    ideal = 1 + 1 / np.log2(3)
    assert out["ndcg@3"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / ideal)


def test_test_queries_against_train_gallery():
    gallery, queries = data(120, 0), data(40, 1)
    out = retrieval_metrics(gallery, queries, ks=(1, 5, 10))
    ref = reference(queries, gallery, (1, 5, 10))
    for key, value in ref.items():
        assert out[key] == pytest.approx(value, abs=1e-6), key
    assert 0.3 < out["map@r"] < 1.0


def test_leave_one_out_on_one_split():
    gallery = data(80, 2)
    out = retrieval_metrics(gallery, None, ks=(1, 5))
    ref = reference(gallery, gallery, (1, 5), same=True)
    for key, value in ref.items():
        assert out[key] == pytest.approx(value, abs=1e-6), key


def test_queries_without_any_relevant_row_are_left_out():
    gallery = data(40, 3, classes=2)
    queries = data(10, 4, classes=4)  # labels 0..3 in turn; 2 and 3 are not in the gallery
    out = retrieval_metrics(gallery, queries, ks=(1,))
    assert out["queries_without_match"] == 4 and out["queries"] == 6


@pytest.mark.parametrize("same", [False, True])
def test_map_at_r_is_pytorch_metric_learnings(same):
    """The same precision@1 and MAP@R as pytorch-metric-learning's AccuracyCalculator."""
    import torch
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    gallery, queries = data(300, 5, classes=3), data(90, 6, classes=3)
    out = retrieval_metrics(gallery, None if same else queries, ks=(1, 5))
    q = gallery if same else queries  # all 300 rows are queries (fewer than max_queries)

    def unit(x):
        return torch.nn.functional.normalize(torch.from_numpy(x), dim=1)

    calc = AccuracyCalculator(
        include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count"
    )
    ref = calc.get_accuracy(
        unit(q.X), torch.from_numpy(q.y), unit(gallery.X), torch.from_numpy(gallery.y), same
    )
    assert out["precision@1"] == pytest.approx(ref["precision_at_1"], abs=1e-9)
    assert out["map@r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)
    assert 0.3 < out["map@r"] < 1.0
