"""Recommendation metrics on the embeddings of two spaces (users and items): all-rank top-K.

Every user scores every item by inner product ``<user, item>``; the items the user interacted
with in training are masked out (score ``-inf``); the ``K`` best remaining items are the
recommendations (LightGCN's protocol, He et al. 2020; NGCF, Wang et al. 2019):

- ``recall@K`` = ``|top-K ∩ held-out| / |held-out|`` per user (divided by the number of the
  user's test items, not by ``K``), averaged over users with at least one test item;
- ``ndcg@K``: binary relevance, ``DCG = sum_{r=1..K} rel_r / log2(r + 1)`` divided by the ideal
  DCG of ``min(K, |held-out|)`` relevant items ranked first, averaged over the same users.

A test item the user also had in training is masked and so never recommended; it still counts
in ``|held-out|`` (as in LightGCN's evaluation, where the two sets are disjoint).

This is recommendation recall. The generic ``retrieval`` task's ``recall@K``
(:mod:`sslkit.core.evaluate.retrieval`) is a different quantity: label retrieval, the fraction
of queries with at least one same-label row among their ``K`` nearest neighbours.

Scoring is batched over users (``batch_users`` rows of ``users x items`` scores at a time) with
torch (CPU or CUDA) for the top-K, so memory stays bounded by ``batch_users * items``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

KS = (10, 20, 40)


def interaction_lists(
    interactions: Any, n_users: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, items)``: CSR rows of a users x items interaction set, each row's items sorted
    and unique. ``interactions`` is a pair ``(user rows, item rows)`` of integer arrays, a
    ``(users, items)`` 0/1 array or a scipy sparse matrix (anything with ``.tocoo()``)."""
    if hasattr(interactions, "tocoo"):
        coo = interactions.tocoo()
        keep = np.asarray(coo.data) != 0
        users, items = np.asarray(coo.row)[keep], np.asarray(coo.col)[keep]
    elif isinstance(interactions, tuple | list) and len(interactions) == 2:
        users, items = (np.asarray(a).reshape(-1) for a in interactions)
    else:
        dense = np.asarray(interactions)
        if dense.ndim != 2:
            raise ValueError(
                "interactions must be (user rows, item rows), a (users, items) matrix or a "
                f"scipy sparse matrix; got an array of shape {dense.shape}"
            )
        users, items = np.nonzero(dense)
    users, items = users.astype(np.int64), items.astype(np.int64)
    if len(users) != len(items):
        raise ValueError(f"{len(users)} user rows but {len(items)} item rows")
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"a user row is outside 0..{n_users - 1}")
    if len(items) and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"an item row is outside 0..{n_items - 1}")
    key = np.unique(users * n_items + items)  # sorted by user, then item; duplicates once
    users, items = key // n_items, key % n_items
    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return indptr, items


def _rows(
    indptr: np.ndarray, items: np.ndarray, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(local row, item) of every interaction of ``users`` (local row = position in ``users``)."""
    starts, ends = indptr[users], indptr[users + 1]
    counts = ends - starts
    local = np.repeat(np.arange(len(users)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return local, items[np.repeat(starts, counts) + offsets]


def _scores(user_emb: Any, item_emb: Any, device: Any):
    import torch

    dev = torch.device(device)
    u = torch.as_tensor(np.ascontiguousarray(user_emb, dtype=np.float32), device=dev)
    v = torch.as_tensor(np.ascontiguousarray(item_emb, dtype=np.float32), device=dev)
    if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[1]:
        raise ValueError(
            f"user embeddings {tuple(u.shape)} and item embeddings {tuple(v.shape)} must be "
            "(users, dim) and (items, dim) of the same dim"
        )
    return u, v


def top_k(
    user_emb: Any,
    item_emb: Any,
    k: int,
    exclude: Any = None,
    *,
    batch_users: int = 1024,
    device: Any = "cpu",
) -> np.ndarray:
    """``(users, min(k, items))`` item rows of each user's ``k`` highest inner products, best
    first; ``exclude`` (interactions as in :func:`interaction_lists`) masks items out."""
    import torch

    u, v = _scores(user_emb, item_emb, device)
    n_users, n_items = u.shape[0], v.shape[0]
    kk = min(int(k), n_items)
    lists = None if exclude is None else interaction_lists(exclude, n_users, n_items)
    out = np.empty((n_users, kk), np.int64)
    for start in range(0, n_users, batch_users):
        rows = np.arange(start, min(start + batch_users, n_users))
        scores = u[rows[0] : rows[-1] + 1] @ v.T
        if lists is not None:
            local, items = _rows(*lists, rows)
            scores[
                torch.as_tensor(local, device=u.device), torch.as_tensor(items, device=u.device)
            ] = -math.inf
        out[rows] = torch.topk(scores, kk, dim=1).indices.cpu().numpy()
    return out


def recall_ndcg_at_k(
    user_emb: Any,
    item_emb: Any,
    train_interactions: Any,
    test_interactions: Any,
    ks: Sequence[int] = KS,
    batch_users: int = 1024,
    device: Any = "cpu",
) -> dict[str, float]:
    """Recall@K and NDCG@K of all-rank inner-product recommendation (see the module docstring).

    ``user_emb`` ``(users, dim)`` and ``item_emb`` ``(items, dim)``: numpy arrays or tensors;
    the interactions (as in :func:`interaction_lists`) index their rows. Returns
    ``recall@K`` and ``ndcg@K`` for each ``K`` (a ``K`` above the number of items ranks every
    item), then ``users`` (those with a test item, over which the means are taken) and
    ``items``."""
    import torch

    u, v = _scores(user_emb, item_emb, device)
    n_users, n_items = u.shape[0], v.shape[0]
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    train = interaction_lists(train_interactions, n_users, n_items)
    test = interaction_lists(test_interactions, n_users, n_items)
    n_test = np.diff(test[0])
    evaluated = np.flatnonzero(n_test > 0)
    out: dict[str, float] = {}
    if len(evaluated) == 0 or n_items == 0:
        for k in ks:
            out[f"recall@{k}"] = out[f"ndcg@{k}"] = 0.0
        return {**out, "users": 0.0, "items": float(n_items)}

    kmax = min(max(ks), n_items)
    dev = u.device
    discount = 1.0 / torch.log2(torch.arange(2, kmax + 2, device=dev, dtype=torch.float64))
    ideal = torch.cat([torch.zeros(1, device=dev, dtype=torch.float64), discount.cumsum(0)])
    recall_sum = {k: 0.0 for k in ks}
    ndcg_sum = {k: 0.0 for k in ks}
    for start in range(0, len(evaluated), batch_users):
        rows = evaluated[start : start + batch_users]
        idx = torch.as_tensor(rows, device=dev)
        scores = u[idx] @ v.T
        local, items = _rows(*train, rows)
        if len(local):
            scores[
                torch.as_tensor(local, device=dev), torch.as_tensor(items, device=dev)
            ] = -math.inf
        top = torch.topk(scores, kmax, dim=1).indices
        held = torch.zeros(len(rows), n_items, dtype=torch.bool, device=dev)
        local, items = _rows(*test, rows)
        held[torch.as_tensor(local, device=dev), torch.as_tensor(items, device=dev)] = True
        hits = held.gather(1, top).double()  # (batch, kmax): 1 where the r-th item is held out
        counts = torch.as_tensor(n_test[rows], device=dev, dtype=torch.float64)
        for k in ks:
            kk = min(k, kmax)
            recall_sum[k] += float((hits[:, :kk].sum(1) / counts).sum())
            dcg = (hits[:, :kk] * discount[:kk]).sum(1)
            idcg = ideal[torch.clamp(counts, max=kk).long()]
            ndcg_sum[k] += float((dcg / idcg).sum())
    n = len(evaluated)
    for k in ks:
        out[f"recall@{k}"] = recall_sum[k] / n
        out[f"ndcg@{k}"] = ndcg_sum[k] / n
    return {**out, "users": float(n), "items": float(n_items)}


def _positions(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row of each wanted id in ``ids``, whether it was found)."""
    ids, wanted = np.asarray(ids), np.asarray(wanted)
    if len(ids) == 0:
        return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
    if ids.dtype.kind != wanted.dtype.kind and not (
        ids.dtype.kind in "iu" and wanted.dtype.kind in "iu"
    ):
        ids, wanted = ids.astype(str), wanted.astype(str)
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], wanted)
    pos = np.minimum(pos, len(ids) - 1)
    found = ids[order][pos] == wanted
    return order[pos], found


def recommendation_task(
    ctx: Any,
    users: str = "user",
    items: str = "item",
    ks: Sequence[int] = KS,
    batch_users: int = 1024,
) -> dict[str, Any]:
    """A plugin task (``TaskSpec(run=...)``) of recommendation recall: the users and items of
    the scoring split (``test``, ``valid``, ...) embedded in the spaces ``users`` and
    ``items``, the interactions of the training split (``DomainData.interactions``) masked,
    those of the scoring split held out; :func:`recall_ndcg_at_k`. Pairs naming an id the
    embeddings lack are left out (``pairs_unknown``)."""
    from sslkit.core.engine.method import method_spaces
    from sslkit.core.evaluate.report import split_roles

    spaces = method_spaces(ctx.method)
    if users not in spaces or items not in spaces:
        return {
            "skipped": f"recommendation needs a method with the spaces {users!r} and {items!r}"
            + (f"; this one has {', '.join(spaces)}" if spaces else "; this one has one space")
        }
    train_split, test_split = split_roles(ctx.splits())
    if test_split is None:
        return {"skipped": "recommendation needs a split of held-out interactions"}
    train_pairs = ctx.data.interactions(train_split)
    test_pairs = ctx.data.interactions(test_split)
    if train_pairs is None or test_pairs is None:
        return {"skipped": "recommendation needs user-item interactions and this data has none"}
    u = ctx.embeddings(test_split, space=users)
    v = ctx.embeddings(test_split, space=items)
    unknown = 0
    rows = []
    for pairs in (train_pairs, test_pairs):
        pu, fu = _positions(u.ids, np.asarray(pairs[0]).reshape(-1))
        pv, fv = _positions(v.ids, np.asarray(pairs[1]).reshape(-1))
        ok = fu & fv
        unknown += int((~ok).sum())
        rows.append((pu[ok], pv[ok]))
    out: dict[str, Any] = dict(
        recall_ndcg_at_k(u.X, v.X, rows[0], rows[1], ks, batch_users, device=ctx.device)
    )
    out["pairs_unknown"] = float(unknown)
    out["protocol"] = (
        f"{users}s rank every {items} by inner product, {train_split} interactions masked, "
        f"{test_split} interactions held out"
    )
    return out
