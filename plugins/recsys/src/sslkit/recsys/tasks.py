"""The recommendation task: all-rank Recall@K / NDCG@K of the test interactions, beside item
popularity and the untrained control.

Every user with a test interaction ranks every item by inner product; the items it has in
training (``fit`` and ``valid``) are masked (:func:`sslkit.core.evaluate.recommend.
recall_ndcg_at_k`). Core's "did pretraining pay?" report fits logistic probes on labels, and
interactions have none, so this task answers it in its own metrics: the same metric for the
popularity ranking (``popularity_*``) and for the method as built before its first step
(``control_*``, :func:`sslkit.core.evaluate.control.untrained_method`), and one ``verdict``
line. ``coverage@20`` (share of the items recommended to anyone) and ``avg_popularity@20``
(mean training interactions of the recommended items) describe the top 20.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.recsys.baselines import popularity, popularity_embeddings

KS = (10, 20, 40)


def _scores(user_emb, item_emb, data, device) -> dict[str, float]:
    from sslkit.core.evaluate.recommend import recall_ndcg_at_k

    return recall_ndcg_at_k(
        user_emb, item_emb, data.rows("train"), data.rows("test"), KS, device=device
    )


def describe_top(top: np.ndarray, data: Any) -> dict[str, float]:
    pop = popularity(data)
    return {
        "coverage@20": float(len(np.unique(top)) / max(1, data.n["item"])),
        "avg_popularity@20": float(pop[top].mean()) if top.size else 0.0,
    }


def _embeddings(ctx: Any, method: Any = None) -> tuple[np.ndarray, np.ndarray]:
    if method is None:
        u, v = ctx.embeddings("test", space="user"), ctx.embeddings("test", space="item")
        return u.X, v.X
    from sslkit.core.evaluate.embeddings import embed_split

    return tuple(
        embed_split(method, ctx.data, "test", ctx.batch_size, ctx.device, space).X
        for space in ("user", "item")
    )


def recommend(ctx: Any) -> dict[str, Any]:
    from sslkit.core.evaluate.control import untrained_method

    data = ctx.data
    if "test" not in data.split_names():
        return {"skipped": "no test interactions (every user has a single interaction?)"}
    users, items = _embeddings(ctx)
    test_users = np.unique(data.rows("test")[0])
    out: dict[str, Any] = {k: v for k, v in _scores(users, items, data, ctx.device).items()}
    out.update(describe_top(masked_top(users, items, data, test_users, 20, ctx.device), data))
    pu, pi = popularity_embeddings(data)
    pop = _scores(pu, pi, data, ctx.device)
    out.update({f"popularity_{k}": pop[k] for k in ("recall@20", "ndcg@20")})
    control = untrained_method(ctx.config, data, ctx.device)
    cu, ci = _embeddings(ctx, control)
    ctl = _scores(cu, ci, data, ctx.device)
    out.update({f"control_{k}": ctl[k] for k in ("recall@20", "ndcg@20")})
    out.update(cold_scores(users, items, data, ctx.device))
    out.update({f"control_{k}": v for k, v in cold_scores(cu, ci, data, ctx.device).items()
                if k.startswith("cold_recall")})  # fmt: skip
    if hasattr(ctx.method, "selection"):
        out.update(ctx.method.selection())
    out["verdict"] = verdict(out)
    out["payoff"] = payoff_section(out)
    out["protocol"] = (
        "users rank every item by inner product; training (fit + valid) items masked; test "
        "interactions held out; popularity = training interaction counts"
    )
    out["data"] = ", ".join(f"{k}={v}" for k, v in data.info["counts"].items())
    return out


def cold_scores(users, items, data, device: Any = "cpu") -> dict[str, float]:
    """Recall@20 / NDCG@20 of the cold split (``data.cold_items``): each user with an
    interaction with a cold-start item ranks the cold-start items only (they have no training
    interaction: nothing to mask), and the expected Recall@20 of a random ranking."""
    from sslkit.core.evaluate.recommend import recall_ndcg_at_k

    cu, ci = data.rows("cold")
    n_cold = data.n["item"] - data.warm_items
    if len(cu) == 0 or n_cold <= 0:
        return {}
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    m = recall_ndcg_at_k(users, items[data.warm_items :], empty, (cu, ci - data.warm_items),
                         (20,), device=device)  # fmt: skip
    return {
        "cold_recall@20": m["recall@20"],
        "cold_ndcg@20": m["ndcg@20"],
        "cold_items": float(n_cold),
        "random_cold_recall@20": min(1.0, 20 / n_cold),
    }


def masked_top(users, items, data, rows, k: int = 20, device: Any = "cpu") -> np.ndarray:
    """``(len(rows), k)``: the evaluation's top ``k`` item rows of the users ``rows`` (user
    rows), their training items masked, best first."""
    from sslkit.core.evaluate.recommend import top_k

    train_u, train_i = data.rows("train")
    local = np.full(data.n["user"], -1, np.int64)
    local[rows] = np.arange(len(rows))
    keep = local[train_u] >= 0
    return top_k(users[rows], items, k, exclude=(local[train_u[keep]], train_i[keep]),
                 device=device)  # fmt: skip


def faiss_agreement(index: Any, users: np.ndarray, items: np.ndarray, data: Any,
                    sample: np.ndarray, k: int = 20) -> list[int]:  # fmt: skip
    """The user rows of ``sample`` whose top ``k`` from the FAISS inner-product ``index`` of
    the items (searched deep enough to pass over the user's training items, which are then
    skipped) differs from the evaluation's top ``k`` (:func:`masked_top`); ``[]``: all agree.
    Two lists agree when they are equal, or when at every position their items' scores are
    equal up to float32 rounding (``1e-6`` of the user's top score): two items whose scores
    differ in the tenth digit may come in either order from two summation orders."""
    expected = masked_top(users, items, data, sample, k)
    train_u, train_i = data.rows("train")
    seen = np.bincount(train_u, minlength=data.n["user"])
    _, found = index.search(np.ascontiguousarray(users[sample], np.float32),
                            k + int(seen[sample].max()))  # fmt: skip
    order = np.argsort(train_u, kind="stable")
    start = np.concatenate([[0], np.cumsum(seen)])
    bad = []
    for row, user in enumerate(sample):
        mine = set(train_i[order[start[user] : start[user + 1]]].tolist())
        top = [i for i in found[row].tolist() if i not in mine and i >= 0][:k]
        want = expected[row].tolist()
        if top == want:
            continue
        score = items.astype(np.float64) @ users[user].astype(np.float64)
        tol = 1e-6 * max(1e-30, float(np.abs(score[want]).max()))
        if len(top) != len(want) or np.abs(score[top] - score[want]).max() > tol:
            bad.append(int(user))
    return bad


def payoff_section(m: dict[str, Any]) -> dict[str, Any]:
    """The report's "did pretraining pay?" section in core's form (``metric``, ``verdict``,
    ``rows``), for a task without labels: Recall@20 and NDCG@20 of the embeddings, the
    untrained control and item popularity (one number each: no label fractions, no seeds)."""
    rows = []
    for prefix, features, model in (("", "embeddings", "inner product"),
                                    ("control_", "untrained control", "inner product"),
                                    ("popularity_", "item popularity", "training counts")):  # fmt: skip
        for metric in ("recall@20", "ndcg@20"):
            rows.append({"features": features, "model": f"{model}, {metric}", "fraction": 1.0,
                         "mean": float(m[prefix + metric]), "std": 0.0})  # fmt: skip
    return {
        "task": "recommend", "metric": "recall@20", "verdict": {"line": m["verdict"]},
        "rows": rows, "column": "test split", "curve": False,
        "caption": "All-rank Recall@20 and NDCG@20 on the test interactions (training items "
        "masked), one run: the embeddings, the same method before its first step, and item "
        "popularity:",
    }  # fmt: skip


def verdict(m: dict[str, Any]) -> str:
    r, p, c = m["recall@20"], m["popularity_recall@20"], m["control_recall@20"]
    word = "above" if r > p else "not above"
    return (
        f"Recall@20 {r:.4f}: {word} item popularity ({p:.4f}, {r - p:+.4f}) and "
        f"{'above' if r > c else 'not above'} the untrained control ({c:.4f}, {r - c:+.4f})"
    )
