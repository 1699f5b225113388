"""Similarity search over a compound library: the nearest neighbours of query SMILES by cosine
similarity of a run's embeddings (an exact FAISS ``IndexFlatIP`` on L2-normalised vectors, as
``sslkit export --to faiss`` builds), each with its Tanimoto similarity on Morgan fingerprints
(radius 2, 2,048 bits) to the query beside.

- :func:`search` (Python): ``search("runs/molecules-attrmask", ["CC(=O)Nc1ccc(O)cc1"],
  library="library.smi", k=10)`` -> one row per (query, neighbour).
- The ``similarity`` task (on request): each test molecule queries the train molecules; the
  mean Tanimoto of its ``k`` embedding neighbours, beside the mean Tanimoto of ``k`` random
  train molecules (chance) and of its ``k`` Tanimoto neighbours (the fingerprint's ceiling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sslkit.molecules.baselines import morgan_fingerprints

K = 10


def tanimoto(query: np.ndarray, library: np.ndarray) -> np.ndarray:
    """Tanimoto similarity ``|a & b| / |a | b|`` of 0/1 fingerprints ``query`` ``(q, bits)``
    with ``library`` ``(n, bits)``: ``(q, n)`` (1 for two empty fingerprints)."""
    a = query.astype(np.float32)
    b = library.astype(np.float32)
    both = a @ b.T
    either = a.sum(1, keepdims=True) + b.sum(1)[None, :] - both
    return np.where(either > 0, both / np.maximum(either, 1), 1.0)


def cosine_neighbours(queries: np.ndarray, library: np.ndarray, k: int):
    """``(similarities, indices)`` of the ``k`` nearest library rows of each query by cosine
    similarity (FAISS exact inner product on L2-normalised float32 vectors)."""
    import faiss

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    index = faiss.IndexFlatIP(library.shape[1])
    index.add(unit(library))
    return index.search(unit(queries), min(k, len(library)))


def search(
    run_dir: str, queries: Sequence[str], library: str | None = None, k: int = K
) -> list[dict[str, Any]]:
    """The ``k`` library molecules nearest each query SMILES in the run's embedding space,
    with cosine and Tanimoto similarity (``library``: a SMILES file or embedded set; default
    the run's data)."""
    import pandas as pd

    from sslkit.core.runs import load_run
    from sslkit.molecules.data import from_memory
    from sslkit.molecules.finetune import predict_embeddings

    loaded = load_run(run_dir, data=library)
    data, embedder = loaded.data, loaded.method.embedder()
    frame = pd.DataFrame({"smiles": list(queries)})
    qdata = from_memory(
        frame,
        type(loaded.config.data)(pretrain_data="self", split="random", cache=False),
        state=data.state(),
    )
    q = predict_embeddings(embedder, qdata, "all")
    x = predict_embeddings(embedder, data, "all")
    sims, idx = cosine_neighbours(q, x, k)
    fq = morgan_fingerprints(qdata.smiles)
    fx = morgan_fingerprints([data.smiles[i] for i in np.unique(idx)])
    where = {int(i): j for j, i in enumerate(np.unique(idx))}
    rows = []
    for a, smiles in enumerate(qdata.smiles):
        t = tanimoto(fq[a : a + 1], fx)[0]
        for rank, (s, i) in enumerate(zip(sims[a], idx[a]), start=1):
            rows.append(
                {
                    "query": smiles,
                    "rank": rank,
                    "smiles": data.smiles[int(i)],
                    "id": str(data.ids[int(i)]),
                    "cosine": float(s),
                    "tanimoto": float(t[where[int(i)]]),
                }
            )
    return rows


def similarity_task(ctx: Any, k: int = K) -> dict[str, Any]:
    """The ``similarity`` task (see the module's docstring)."""
    data = ctx.data
    if "train" not in data.split_names() or "test" not in data.split_names():
        return {"skipped": "the similarity task needs train and test splits"}
    train, test = data.split_index("train"), data.split_index("test")
    k = min(k, len(train))
    ftr = morgan_fingerprints([data.smiles[i] for i in train])
    fte = morgan_fingerprints([data.smiles[i] for i in test])
    t = tanimoto(fte, ftr)
    _, idx = cosine_neighbours(ctx.embeddings("test").X, ctx.embeddings("train").X, k)
    embedding = np.take_along_axis(t, idx, axis=1).mean()
    ceiling = np.sort(t, axis=1)[:, -k:].mean()
    rng = np.random.default_rng(ctx.seed)
    chance = np.take_along_axis(t, rng.integers(0, len(train), size=idx.shape), axis=1).mean()
    return {
        f"tanimoto_at_{k}": float(embedding),
        f"tanimoto_at_{k}_random": float(chance),
        f"tanimoto_at_{k}_fingerprint": float(ceiling),
        "queries": float(len(test)),
        "library": float(len(train)),
    }
