"""The medical plugin's :class:`DomainData`: preprocessed images, labels, masks and splits.

Every image is a float32 tensor ``(channels, *size)`` after the deterministic preprocessing
(:mod:`sslkit.medical.data.pipeline`). Training items are ``(image,)`` tuples; the method's
views (MONAI random transforms, :mod:`sslkit.medical.augment`) run on each in the DataLoader
workers. ``embed`` inputs are image batches ``(batch, channels, *size)``.

Labels: ``labels`` is ``(images, columns)`` float with NaN where missing: one column of class
ids (binary, multi-class) or one 0/1 column per finding (multi-label). ``eval_batches`` yields
the class ids (-1 where missing; multi-label: the first finding) for core's generic tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import UsageError


class MedicalSet(DomainData):
    full_batch = False

    def __init__(
        self,
        images: np.ndarray,
        *,
        labels: np.ndarray | None,
        masks: np.ndarray | None,
        splits: dict[str, np.ndarray],
        ids: np.ndarray,
        kind: str,
        info: dict[str, Any],
        facts: dict[str, Any],
        state: dict[str, Any],
    ):
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        self.labels = labels
        self.masks = None if masks is None else torch.from_numpy(masks.astype(np.int64))
        self.splits = splits
        self.ids = ids
        self.kind = kind
        """binary, multiclass, multilabel, or none."""
        self.info = info
        """spatial_dims, in_channels, size: what the encoder is built for."""
        self.facts = facts
        self._state = state

    # -- training -----------------------------------------------------------------------------
    def train_dataset(self) -> list[tuple[torch.Tensor]]:
        """The images pretraining sees: the train split (no test image is seen), or all of
        them when the data has no labels."""
        index = self.splits.get("train") if self.has_labels() else None
        index = np.arange(len(self.images)) if index is None else index
        return [(self.images[i],) for i in index]

    def collate(self, items: list[Any]) -> Any:
        return tuple(torch.stack(list(col)) for col in zip(*items))

    # -- evaluation ---------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        return [s for s in ("train", "val", "test") if len(self.splits.get(s, ()))]

    def split_index(self, split: str) -> np.ndarray:
        if split == "all":
            return np.arange(len(self.images))
        if split not in self.splits:
            raise UsageError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        return self.splits[split]

    def class_ids(self, index: np.ndarray) -> np.ndarray | None:
        if self.labels is None:
            return None
        y = self.labels[index, 0]
        return np.where(np.isfinite(y), y, -1).astype(np.int64)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        index = self.split_index(split)
        bs = max(int(batch_size), 1)
        for start in range(0, len(index), bs):
            part = index[start : start + bs]
            yield EvalBatch(self.ids[part], self.images[part], self.class_ids(part))

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        yield from self.eval_batches("all", batch_size)

    def example_inputs(self, batch_size: int = 2) -> Any:
        return self.images[:batch_size]

    def has_labels(self) -> bool:
        return self.labels is not None and bool(np.isfinite(self.labels).any())

    def task_kind(self) -> str:
        return "classification" if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def fingerprint(self) -> str:
        return str(self.facts.get("fingerprint") or super().fingerprint())
