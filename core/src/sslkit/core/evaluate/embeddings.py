"""Frozen embeddings of a data split, computed once per evaluation and cached."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.config import RunConfig
from sslkit.core.data import DomainData
from sslkit.core.engine.method import Method, move_to


@dataclass
class Embeddings:
    ids: np.ndarray
    X: np.ndarray
    """``(rows, dim)`` float32."""
    y: np.ndarray | None = None


@torch.no_grad()
def embed_split(
    method: Method,
    data: DomainData,
    split: str,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> Embeddings:
    method.eval()
    ids, xs, ys = [], [], []
    for batch in data.eval_batches(split, batch_size):
        z = method.embed(move_to(batch.inputs, torch.device(device)))
        xs.append(z.float().cpu().numpy())
        ids.append(np.asarray(batch.ids))
        if batch.labels is not None:
            ys.append(np.asarray(batch.labels))
    if not xs:
        return Embeddings(np.empty(0), np.empty((0, method.embed_dim), np.float32))
    y = np.concatenate(ys) if ys and len(ys) == len(xs) else None
    return Embeddings(np.concatenate(ids), np.concatenate(xs).astype(np.float32), y)


@dataclass
class TaskContext:
    """What a task receives: the run, its data (preprocessing reused) and the trained method."""

    run_dir: Path | None
    config: RunConfig
    data: DomainData
    method: Method
    device: str = "cpu"
    batch_size: int = 1024
    _cache: dict[str, Embeddings] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.config.train.seed

    def embeddings(self, split: str) -> Embeddings:
        if split not in self._cache:
            self._cache[split] = embed_split(
                self.method, self.data, split, self.batch_size, self.device
            )
        return self._cache[split]

    def splits(self) -> list[str]:
        return self.data.split_names()

    def extra(self) -> dict[str, Any]:
        return {}
