"""``InteractionData``: users and items (two embedding spaces) and their interactions, split
into ``fit`` (the graph the model trains on), ``valid`` (cut from training, chooses the step)
and ``test``.

Evaluation masks every interaction known before the test (``fit`` and ``valid``: the
``train`` split of :meth:`InteractionData.interactions`) and holds out ``test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sslkit.core.data import DomainData, EvalBatch

SPACES = ("user", "item")


class PairIndex(torch.utils.data.Dataset):
    """The training interactions by index: the collate gathers the batch's pairs at once."""

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def normalized_adjacency(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(crow, col, value)`` of ``D^-1/2 A D^-1/2`` for the bipartite adjacency
    ``A = [[0, R], [R^T, 0]]`` of the (unique) pairs (He et al. 2020, eq. 7), users first."""
    n = n_users + n_items
    key = np.unique(users.astype(np.int64) * n_items + items.astype(np.int64))
    u, i = key // n_items, key % n_items + n_users
    row = np.concatenate([u, i])
    col = np.concatenate([i, u])
    deg = np.bincount(row, minlength=n).astype(np.float64)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0)
    order = np.lexsort((col, row))
    row, col = row[order], col[order]
    crow = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=crow[1:])
    return crow, col.astype(np.int64), (inv[row] * inv[col]).astype(np.float32)


class InteractionData(DomainData):
    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        pairs: dict[str, tuple[np.ndarray, np.ndarray]],
        counts: dict[str, Any],
        source: str,
        features: dict[str, Any] | None = None,
        warm_items: int | None = None,
    ):
        self.users, self.items = users, items
        self.features = features or {}
        """``{"item": FeatureTable | None, "user": ...}``, rows aligned to the id maps."""
        self.warm_items = len(items) if warm_items is None else int(warm_items)
        """Items ``0..warm_items-1`` have training interactions; the rest are cold-start items
        (``data.cold_items``), known only by their features."""
        self.pairs = pairs
        self.counts = counts
        self.source = source
        self.n = {"user": len(users), "item": len(items)}
        fit_u = pairs["fit"][0]
        self.info = {
            "users": len(users),
            "items": len(items),
            "edges": 2 * len(fit_u),
            "interactions": {k: len(v[0]) for k, v in pairs.items()},
            "warm_items": self.warm_items,
            "counts": counts,
            "source": source,
        }

    # -- training ------------------------------------------------------------------------------
    def train_dataset(self) -> PairIndex:
        return PairIndex(len(self.pairs["fit"][0]))

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        idx = np.asarray(items, dtype=np.int64)
        u, i = self.pairs["fit"]
        return {"user": torch.from_numpy(u[idx]), "item": torch.from_numpy(i[idx])}

    def graph(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The normalised adjacency of the training (``fit``) interactions, CSR arrays."""
        return normalized_adjacency(*self.pairs["fit"], self.n["user"], self.n["item"])

    def rows(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer (user rows, item rows) of ``fit``, ``valid``, ``test``, ``cold`` or ``train``
        (``fit`` and ``valid``: everything known before the test)."""
        if split == "train":
            (a, b), (c, d) = self.pairs["fit"], self.pairs["valid"]
            return np.concatenate([a, c]), np.concatenate([b, d])
        if split not in self.pairs:
            raise ValueError(
                f"unknown split {split!r}; this data has train, {', '.join(self.pairs)}"
            )
        return self.pairs[split]

    # -- evaluation and export -----------------------------------------------------------------
    def split_names(self) -> list[str]:
        return ["train", "test"] if len(self.pairs["test"][0]) else ["train"]

    def _space(self, space: str | None) -> str:
        space = space or SPACES[0]
        if space not in self.n:
            raise ValueError(f"unknown space {space!r}; this data has {', '.join(SPACES)}")
        return space

    def _batches(self, space: str | None, batch_size: int) -> Iterator[EvalBatch]:
        space = self._space(space)
        ids = self.users if space == "user" else self.items
        for start in range(0, len(ids), batch_size):
            rows = np.arange(start, min(start + batch_size, len(ids)))
            yield EvalBatch(ids[rows], torch.from_numpy(rows))

    def eval_batches(
        self, split: str, batch_size: int, space: str | None = None
    ) -> Iterator[EvalBatch]:
        """Every user (or item), whatever the split: the splits differ in interactions."""
        if split not in ("train", "test", "valid", "fit", "cold"):
            raise ValueError(f"unknown split {split!r}")
        return self._batches(space, batch_size)

    def export_batches(self, batch_size: int, space: str | None = None) -> Iterator[EvalBatch]:
        return self._batches(space, batch_size)

    def interactions(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        u, i = self.rows(split)
        return self.users[u], self.items[i]

    def state(self) -> dict[str, Any]:
        return {"users": self.users.tolist(), "items": self.items.tolist()}
