"""FAISS indexes built from streamed embedding files (``.npy`` parts, memory-mapped).

- ``flat``: exact ``IndexFlatIP`` (the default).
- ``ivf``: ``IndexIVFFlat`` with ``nlist ~ 4 sqrt(n)`` inverted lists, k-means trained on a
  random sample of the rows; ``nprobe`` lists searched per query (default
  ``max(16, nlist / 16)``).
- ``hnsw``: ``IndexHNSWFlat`` (Malkov & Yashunin 2018) with ``M`` links per node.

With ``metric="cosine"`` (default) vectors are L2-normalised before they are added, so inner
product is cosine similarity (queries must be normalised too; the card says so). The
approximate indexes report recall@10 against exact search on sampled rows.

The index itself lives in memory while it is built (that is what a FAISS index is); the
embeddings are read from disk in chunks and never held a second time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import DataError

KINDS = ("flat", "ivf", "hnsw")
METRICS = ("cosine", "ip")
CHUNK = 65536


class Rows:
    """Row-wise view over several ``(n_i, dim)`` float32 ``.npy`` files (memory-mapped)."""

    def __init__(self, paths: list[Path]):
        self.parts = [np.load(p, mmap_mode="r") for p in paths]
        self.offsets = np.cumsum([0, *[len(p) for p in self.parts]])
        self.dim = int(self.parts[0].shape[1]) if self.parts else 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def chunks(self, size: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
        for part, start in zip(self.parts, self.offsets[:-1]):
            for i in range(0, len(part), size):
                yield int(start + i), np.array(part[i : i + size], dtype=np.float32)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows by global position (sorted access per part)."""
        rows = np.asarray(rows)
        out = np.empty((len(rows), self.dim), np.float32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for p in np.unique(which):
            m = which == p
            out[m] = self.parts[p][rows[m] - self.offsets[p]]
        return out


def _prepare(x: np.ndarray, metric: str) -> np.ndarray:
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric == "cosine":
        faiss.normalize_L2(x)
    return x


def default_nlist(n: int) -> int:
    """~4 sqrt(n) lists, at most n / 39 so k-means has 39 points per centroid (FAISS' minimum)."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def build_index(
    rows: Rows,
    kind: str = "flat",
    metric: str = "cosine",
    *,
    nlist: int = 0,
    nprobe: int = 0,
    hnsw_m: int = 32,
    ef_search: int = 128,
    seed: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Build the index over ``rows``; returns ``(index, facts for the model card)``."""
    import faiss

    n, dim = len(rows), rows.dim
    start = time.perf_counter()
    facts: dict[str, Any] = {"index": kind, "metric": metric, "normalized": metric == "cosine"}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = nlist or default_nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = min(n, max(256 * nlist, 10_000), 500_000)
        pick = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
        index.cp.seed = seed
        index.train(_prepare(rows.take(pick), metric))
        index.nprobe = min(nprobe or max(16, nlist // 16), nlist)
        facts.update(nlist=nlist, nprobe=int(index.nprobe), train_rows=int(sample))
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, 2 * hnsw_m)
        index.hnsw.efSearch = ef_search
        facts.update(M=hnsw_m, efConstruction=int(index.hnsw.efConstruction), efSearch=ef_search)
    else:  # checked earlier; kept for direct callers
        raise ValueError(f"unknown index kind {kind!r}")
    for _, chunk in rows.chunks():
        index.add(_prepare(chunk, metric))
    facts["rows"] = int(index.ntotal)
    facts["build_seconds"] = round(time.perf_counter() - start, 3)
    return index, facts


def exact_neighbours(rows: Rows, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Exact top-``k`` positions by inner product, computed chunk by chunk over ``rows``."""
    import faiss

    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start, chunk in rows.chunks(16384):
        d, i = faiss.knn(
            queries, _prepare(chunk, metric), min(k, len(chunk)), faiss.METRIC_INNER_PRODUCT
        )
        if i.shape[1] < k:  # a short last chunk: pad with impossible results
            pad = k - i.shape[1]
            d = np.pad(d, ((0, 0), (0, pad)), constant_values=-np.inf)
            i = np.pad(i, ((0, 0), (0, pad)), constant_values=-1)
        heap.add_result(d, np.where(i >= 0, i + start, -1))
    heap.finalize()
    return heap.I


def recall_at_k(
    index: Any, rows: Rows, metric: str, k: int = 10, queries: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Recall@k of ``index`` against exact search, on ``queries`` sampled rows used as queries
    (each query's own row left out of both result lists)."""
    n = len(rows)
    if n < 2:
        return {"recall@10": 1.0, "recall_queries": n}
    pick = np.sort(np.random.default_rng(seed + 7).choice(n, min(queries, n), replace=False))
    q = _prepare(rows.take(pick), metric)
    kk = min(k + 1, n)
    exact = exact_neighbours(rows, q, kk, metric)
    _, approx = index.search(q, kk)
    hits = 0
    for own, e, a in zip(pick, exact, approx):
        e = [x for x in e if x != own][: kk - 1]
        a = {x for x in a if x != own and x >= 0}
        hits += len(a.intersection(e)) / max(1, len(e))
    return {f"recall@{k}": round(hits / len(pick), 4), "recall_queries": len(pick)}


def index_parts(tmp: Path, parts: list[dict[str, Any]], options: dict[str, Any], seed: int):
    """The ``faiss`` export's last step: build the index from the streamed ``.npy`` parts in
    ``tmp``, merge their ids into one ``ids.npy``, remove the parts; returns the facts."""
    import faiss

    from sslkit.core.export.writers import IdsWriter

    rows = Rows([tmp / p["files"]["embeddings"] for p in parts])
    if len(rows) == 0:
        raise DataError("no rows to index: the export data is empty")
    kind = options.get("index") or "flat"
    metric = options.get("metric") or "cosine"
    index, facts = build_index(
        rows,
        kind,
        metric,
        nlist=options.get("nlist") or 0,
        nprobe=options.get("nprobe") or 0,
        hnsw_m=options.get("hnsw_m") or 32,
        ef_search=options.get("ef_search") or 128,
        seed=seed,
    )
    if kind != "flat":
        facts.update(recall_at_k(index, rows, metric, k=10, seed=seed))
        facts["recall_against"] = "exact inner-product search (flat index), same rows"
    faiss.write_index(index, str(tmp / "index.faiss"))
    del index, rows
    if len(parts) > 1:
        ids = IdsWriter(tmp / "ids.npy")
        for p in parts:
            for start in range(0, p["rows"], 65536):
                part = np.load(tmp / p["files"]["ids"], mmap_mode="r")
                ids.write(np.asarray(part[start : start + 65536]))
        ids.close()
    for p in parts:
        (tmp / p["files"]["embeddings"]).unlink()
        if len(parts) > 1:
            (tmp / p["files"]["ids"]).unlink()
    facts["files"] = {"index": "index.faiss", "ids": "ids.npy"}
    facts["query"] = (
        "L2-normalise query embeddings, then index.search(q, k); row i is ids[i]"
        if metric == "cosine"
        else "index.search(q, k) on raw embeddings (inner product); row i is ids[i]"
    )
    return facts
