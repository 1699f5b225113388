"""Generic evaluations on frozen embeddings: linear probe, kNN probe, representation monitors.

Every function takes :class:`Embeddings` (numpy) and returns a flat dict of floats (plus a few
strings saying what was done), so results go straight into ``report.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings

#: ridge strengths searched by leave-one-out GCV on the training split
RIDGE_ALPHAS = np.logspace(-3, 4, 15)


def subsample(emb: Embeddings, max_rows: int, seed: int) -> Embeddings:
    """At most ``max_rows`` rows drawn without replacement (order kept), or ``emb`` itself."""
    if max_rows <= 0 or len(emb.X) <= max_rows:
        return emb
    keep = np.sort(np.random.default_rng(seed).choice(len(emb.X), max_rows, replace=False))
    return Embeddings(emb.ids[keep], emb.X[keep], None if emb.y is None else emb.y[keep])


def linear_probe(
    train: Embeddings,
    test: Embeddings,
    kind: str = "classification",
    seed: int = 0,
    max_train_rows: int = 100_000,
) -> dict[str, Any]:
    """Logistic (classification: core's probe with :data:`~sslkit.core.evaluate.logistic.
    DEFAULT_PROBE`) or ridge (regression) regression on standardised frozen embeddings; the
    regularisation strength is chosen on the training split only (logistic: stratified 5-fold
    CV by log-loss, one seeded held-out tenth from 10,000 rows; ridge: leave-one-out GCV), then
    refit on all of it.

    At most ``max_train_rows`` training rows are used (a seeded subsample; reported)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sslkit.core.errors import DataError
    from sslkit.core.evaluate import logistic

    train = subsample(train, max_train_rows, seed)
    if kind != "regression":
        protocol = dataclasses.replace(logistic.DEFAULT_PROBE, max_train_rows=None)
        try:
            out, probe = logistic.probe_metrics(train, test, protocol, seed)
        except DataError as err:
            return {"skipped": f"linear-probe: {err}"}
        out.update(cv_folds=float(probe.folds), selection=protocol.describe(len(train.X)))
        if not probe.converged:
            out["note"] = (
                f"{protocol.solver} did not fully converge in {protocol.max_iter} iterations"
            )
        return out
    out: dict[str, Any] = {"train_rows": float(len(train.X)), "test_rows": float(len(test.X))}
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    model.fit(train.X, np.asarray(train.y, dtype=np.float64))
    pred = model.predict(test.X)
    y = np.asarray(test.y, dtype=np.float64)
    out.update(
        rmse=float(np.sqrt(mean_squared_error(y, pred))),
        mae=float(mean_absolute_error(y, pred)),
        r2=float(r2_score(y, pred)),
        alpha=float(model[-1].alpha_),
    )
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cosine_neighbours(
    query: np.ndarray, reference: np.ndarray, k: int, self_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine similarities and indices of ``query`` rows among ``reference`` rows
    (exact: a FAISS flat inner-product index on L2-normalised vectors). When the queries are
    reference rows, ``self_index[i]`` is query ``i``'s row in ``reference`` and is left out."""
    import faiss

    q, r = _normalise(query), _normalise(reference)
    index = faiss.IndexFlatIP(r.shape[1])
    index.add(r)
    extra = 0 if self_index is None else 1
    sims, idx = index.search(q, min(k + extra, len(r)))
    if self_index is not None:
        own = idx == np.asarray(self_index)[:, None]
        # drop the query's own row, or the last column when ties pushed it out of the list
        drop = np.where(own.any(1), own.argmax(1), idx.shape[1] - 1)
        mask = np.ones_like(idx, dtype=bool)
        mask[np.arange(len(q)), drop] = False
        sims = sims[mask].reshape(len(q), -1)
        idx = idx[mask].reshape(len(q), -1)
    return sims, idx


def knn_probe(
    train: Embeddings,
    test: Embeddings | None,
    kind: str = "classification",
    ks: tuple[int, ...] = (20, 200),
    temperature: float = 0.07,
    max_train_rows: int = 1_000_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Weighted kNN on cosine similarity (Wu et al. 2018, "Unsupervised Feature Learning via
    Non-Parametric Instance Discrimination"; the protocol of DINO): each of the ``k`` nearest
    training embeddings votes for its label with weight ``exp(sim / temperature)``. For
    regression the prediction is the weighted mean. Neighbours come from a FAISS flat index.
    With ``test=None`` it is leave-one-out on ``train``."""
    train = subsample(train, max_train_rows, seed)
    query = train if test is None else test
    kmax = min(max(ks), len(train.X) - (1 if test is None else 0))
    if kmax < 1:
        return {"skipped": "knn-probe needs at least 2 training rows"}
    own = np.arange(len(train.X)) if test is None else None
    sims, idx = cosine_neighbours(query.X, train.X, kmax, self_index=own)
    weights = np.exp((sims - 1.0) / temperature)  # shifted by the max similarity: no overflow
    neighbour_y = np.asarray(train.y)[idx]
    out: dict[str, Any] = {"train_rows": float(len(train.X)), "query_rows": float(len(query.X))}
    if test is None:
        out["protocol"] = "leave-one-out on train (no other split)"
    for k in ks:
        kk = min(k, kmax)
        w, ny = weights[:, :kk], neighbour_y[:, :kk]
        if kind == "regression":
            pred = (w * ny.astype(np.float64)).sum(1) / w.sum(1)
            err = pred - np.asarray(query.y, dtype=np.float64)
            out[f"rmse@{k}"] = float(np.sqrt(np.mean(err**2)))
            out[f"r2@{k}"] = float(
                1 - np.sum(err**2) / max(np.sum((query.y - np.mean(query.y)) ** 2), 1e-12)
            )
            continue
        classes, inverse = np.unique(ny, return_inverse=True)
        votes = np.zeros((len(ny), len(classes)))
        np.add.at(votes, (np.repeat(np.arange(len(ny)), kk), inverse.ravel()), w.ravel())
        pred = classes[votes.argmax(1)]
        out[f"accuracy@{k}"] = float(np.mean(pred == np.asarray(query.y)))
    return out


def representation_stats(
    emb: Embeddings, max_rows: int = 8192, seed: int = 0, pairs: int = 4096
) -> dict[str, Any]:
    """Label-free health of a representation.

    - RankMe (Garrido et al. 2023): effective rank of the embedding matrix (1 = collapsed).
    - uniformity (Wang & Isola 2020), on L2-normalised embeddings (lower is more uniform).
    - embedding std of normalised embeddings (SimSiam; ~1/sqrt(dim) healthy, 0 collapsed).
    - alignment (Wang & Isola 2020) when labels exist: the expected squared distance between
      normalised embeddings of random same-label pairs (frozen embeddings have no augmented
      views, so positives are rows sharing a label; lower is better).
    """
    import torch

    from sslkit.core.objectives import alignment, embedding_std, rankme, uniformity

    emb = subsample(emb, max_rows, seed)
    z = torch.from_numpy(np.ascontiguousarray(emb.X)).double()
    rank = float(rankme(z))
    out: dict[str, Any] = {
        "rows": float(len(emb.X)),
        "dim": float(z.shape[1]),
        "rankme": rank,
        "rankme_ratio": rank / max(1, min(z.shape)),
        "uniformity": float(uniformity(z[:4096])),
        "embedding_std": float(embedding_std(z)),
        "ideal_std": float(1.0 / np.sqrt(z.shape[1])),
    }
    if emb.y is not None and len(emb.y):
        a, b = same_label_pairs(np.asarray(emb.y), pairs, seed)
        if len(a):
            out["alignment"] = float(alignment(z[a], z[b]))
            out["alignment_pairs"] = "same-label pairs"
    return out


def same_label_pairs(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random pairs ``(i, j)``, ``i != j``, with ``y[i] == y[j]`` (classes of size >= 2)."""
    rng = np.random.default_rng(seed)
    if y.dtype.kind == "f" and len(np.unique(y)) > max(50, len(y) // 10):
        return np.empty(0, int), np.empty(0, int)  # continuous targets: no "same label"
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    usable = np.flatnonzero(counts[inverse] >= 2)
    if len(usable) == 0:
        return np.empty(0, int), np.empty(0, int)
    groups = {c: np.flatnonzero(inverse == c) for c in np.unique(inverse[usable])}
    first = rng.choice(usable, n)
    second = np.empty_like(first)
    for t, i in enumerate(first):
        members = groups[inverse[i]]
        j = i
        while j == i:
            j = members[rng.integers(len(members))]
        second[t] = j
    return first, second
