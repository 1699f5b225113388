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
    """User and item "embeddings" whose inner product is the item's popularity (ties broken
    towards the smaller item row by a tiny decreasing offset, so the ranking is the same on
    every machine)."""
    pop = popularity(data)
    tie = -np.arange(len(pop), dtype=np.float64) / (len(pop) + 1) / 2
    users = np.ones((data.n["user"], 1), np.float32)
    return users, (pop + tie).astype(np.float32)[:, None]
