"""The field's plain baseline: item popularity (every user is recommended the items with the
most training interactions), scored by the same all-rank metric as the embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np


def popularity(data: Any) -> np.ndarray:
    """``(items,)`` number of training interactions (``fit`` and ``valid``) of each item."""
    _, items = data.rows("train")
    return np.bincount(items, minlength=data.n["item"]).astype(np.float64)


def popularity_embeddings(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """User and item "embeddings" whose inner product ranks items by popularity, ties broken
    towards the smaller item row: the item's score is ``items - rank`` of that order, a whole
    number exact in float32 (below 2**24 items), so the ranking is the same on every machine
    (a tiny decreasing offset added to the counts vanishes in float32 beside counts in the
    thousands)."""
    pop = popularity(data)
    order = np.lexsort((np.arange(len(pop)), -pop))
    score = np.empty(len(pop), np.float32)
    score[order] = np.arange(len(pop), 0, -1, dtype=np.float32)
    users = np.ones((data.n["user"], 1), np.float32)
    return users, score[:, None]
