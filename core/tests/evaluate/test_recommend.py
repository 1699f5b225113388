"""Recommendation Recall@K / NDCG@K (sslkit.core.evaluate.recommend): a hand-computed example,
a brute-force numpy loop on random data, and the input forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sslkit.core.evaluate.recommend import interaction_lists, recall_ndcg_at_k, top_k


def brute_force(user_emb, item_emb, train, test, ks):
    """The definitions, one user at a time, with plain numpy."""
    scores = user_emb.astype(np.float64) @ item_emb.astype(np.float64).T
    recall = {k: [] for k in ks}
    ndcg = {k: [] for k in ks}
    for u in range(len(user_emb)):
        held = {i for uu, i in zip(*test) if uu == u}
        if not held:
            continue
        s = scores[u].copy()
        for uu, i in zip(*train):
            if uu == u:
                s[i] = -np.inf
        ranked = list(np.argsort(-s, kind="stable"))
        for k in ks:
            top = ranked[:k]
            recall[k].append(len(held & set(top)) / len(held))
            dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(top) if i in held)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(held))))
            ndcg[k].append(dcg / idcg)
    return {k: float(np.mean(v)) for k, v in recall.items()}, {
        k: float(np.mean(v)) for k, v in ndcg.items()
    }


def test_hand_computed_example():
    """3 users, 5 items, 1-d embeddings: scores are products, so the rankings are plain.

    items: [5, 4, 3, 2, 1] ->
    user 0 (+1): ranking 0 1 2 3 4; train {0}: ranking 1 2 3 4; test {2, 4}
      top-2 = [1, 2]: hits at rank 2 -> recall@2 = 1/2, ndcg@2 = (1/log2 3) / (1 + 1/log2 3)
      top-4 = [1, 2, 3, 4]: recall@4 = 2/2, ndcg@4 = (1/log2 3 + 1/log2 5) / (1 + 1/log2 3)
    user 1 (-1): ranking 4 3 2 1 0; train {4, 3}: ranking 2 1 0; test {0}
      top-2 = [2, 1]: recall@2 = 0, ndcg@2 = 0
      top-4 = [2, 1, 0, (3 or 4, masked)]: hit at rank 3 -> recall@4 = 1, ndcg@4 = 1/log2 4 = 1/2
    user 2: no test item -> not averaged
    """
    users = np.array([[1.0], [-1.0], [2.0]], np.float32)
    items = np.array([[5.0], [4.0], [3.0], [2.0], [1.0]], np.float32)
    train = (np.array([0, 1, 1, 2]), np.array([0, 4, 3, 1]))
    test = (np.array([0, 0, 1]), np.array([2, 4, 0]))
    got = recall_ndcg_at_k(users, items, train, test, ks=(2, 4))

    l3, l5 = math.log2(3), math.log2(5)
    want_recall_2 = (1 / 2 + 0) / 2
    want_recall_4 = (1 + 1) / 2
    want_ndcg_2 = ((1 / l3) / (1 + 1 / l3) + 0) / 2
    want_ndcg_4 = ((1 / l3 + 1 / l5) / (1 + 1 / l3) + 1 / 2) / 2
    assert got["recall@2"] == pytest.approx(want_recall_2)
    assert got["recall@4"] == pytest.approx(want_recall_4)
    assert got["ndcg@2"] == pytest.approx(want_ndcg_2)
    assert got["ndcg@4"] == pytest.approx(want_ndcg_4)
    assert got["users"] == 2 and got["items"] == 5
    # a K above the number of items ranks every item
    assert recall_ndcg_at_k(users, items, train, test, ks=(9,))["recall@9"] == pytest.approx(1.0)


@pytest.mark.parametrize("batch_users", [1, 7, 1024])
def test_matches_a_brute_force_loop_on_random_data(batch_users):
    rng = np.random.default_rng(3)
    n_users, n_items, dim = 37, 53, 8
    u = rng.normal(size=(n_users, dim)).astype(np.float32)
    v = rng.normal(size=(n_items, dim)).astype(np.float32)
    taken = rng.random((n_users, n_items)) < 0.15
    split = rng.random((n_users, n_items)) < 0.3
    train = np.nonzero(taken & ~split)
    test = np.nonzero(taken & split)
    ks = (1, 5, 10, 20)
    got = recall_ndcg_at_k(u, v, train, test, ks=ks, batch_users=batch_users)
    recall, ndcg = brute_force(u, v, train, test, ks)
    for k in ks:
        assert got[f"recall@{k}"] == pytest.approx(recall[k], abs=1e-9)
        assert got[f"ndcg@{k}"] == pytest.approx(ndcg[k], abs=1e-9)
    assert got["users"] == sum(1 for r in range(n_users) if (taken & split)[r].any())


def test_interaction_forms_agree():
    """Index pairs, a dense 0/1 matrix and a scipy sparse matrix give the same metrics;
    duplicates count once."""
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    u = rng.normal(size=(10, 4))
    v = rng.normal(size=(12, 4))
    train = rng.random((10, 12)) < 0.2
    test = (rng.random((10, 12)) < 0.2) & ~train
    pairs = recall_ndcg_at_k(u, v, np.nonzero(train), np.nonzero(test), ks=(3,))
    dense = recall_ndcg_at_k(u, v, train, test.astype(int), ks=(3,))
    csr = recall_ndcg_at_k(u, v, sparse.csr_matrix(train), sparse.csr_matrix(test), ks=(3,))
    tu, ti = np.nonzero(test)
    doubled = recall_ndcg_at_k(u, v, np.nonzero(train), (np.r_[tu, tu], np.r_[ti, ti]), ks=(3,))
    assert pairs == dense == csr == doubled
    indptr, items = interaction_lists((np.array([2, 0, 2]), np.array([1, 3, 0])), 3, 4)
    assert indptr.tolist() == [0, 1, 1, 3] and items.tolist() == [3, 0, 1]
    with pytest.raises(ValueError, match="outside"):
        interaction_lists((np.array([3]), np.array([0])), 3, 4)


def test_top_k_is_the_inner_product_ranking():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(9, 5)).astype(np.float32)
    v = rng.normal(size=(30, 5)).astype(np.float32)
    want = np.argsort(-(u @ v.T), axis=1, kind="stable")[:, :4]
    assert (top_k(u, v, 4, batch_users=2) == want).all()
    # masked items never appear
    exclude = (np.arange(9), want[:, 0])
    masked = top_k(u, v, 4, exclude)
    assert not (masked == want[:, :1]).any(axis=1).any()
    assert (masked[:, :3] == want[:, 1:4]).all()


def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=(300, 16)), rng.normal(size=(400, 16))
    taken = rng.random((300, 400)) < 0.05
    split = rng.random((300, 400)) < 0.3
    args = (u, v, np.nonzero(taken & ~split), np.nonzero(taken & split), (10, 20, 40))
    cpu = recall_ndcg_at_k(*args, batch_users=64)
    gpu = recall_ndcg_at_k(*args, batch_users=64, device="cuda")
    assert cpu == pytest.approx(gpu, abs=1e-6)


def test_users_without_test_items_give_zeros():
    u, v = np.ones((2, 3)), np.ones((4, 3))
    got = recall_ndcg_at_k(u, v, (np.array([0]), np.array([1])), (np.array([]), np.array([])))
    assert got["users"] == 0 and got["recall@10"] == 0.0
