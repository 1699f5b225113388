"""Frozen embeddings of a data split, computed once per evaluation and cached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.config import RunConfig
from sslkit.core.data import DomainData, space_batches
from sslkit.core.engine.method import Method, dim_of, embed_in, move_to


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
    space: str | None = None,
) -> Embeddings:
    """The embeddings of one split (of ``space``: a method with several embedding spaces;
    ``None``, the default space)."""
    method.eval()
    ids, xs, ys = [], [], []
    for batch in space_batches(data, split, batch_size, space):
        z = embed_in(method, move_to(batch.inputs, torch.device(device)), space)
        xs.append(z.float().cpu().numpy())
        ids.append(np.asarray(batch.ids))
        if batch.labels is not None:
            ys.append(np.asarray(batch.labels))
    if not xs:
        return Embeddings(np.empty(0), np.empty((0, dim_of(method, space)), np.float32))
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
    _results: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.config.train.seed

    def embeddings(self, split: str, space: str | None = None) -> Embeddings:
        """The split's embeddings (of ``space``; ``None``, the default space), computed once.
        Cached under the split's name, or ``"<space>:<split>"`` for a named space."""
        key = split if space is None else f"{space}:{split}"
        if key not in self._cache:
            self._cache[key] = embed_split(
                self.method, self.data, split, self.batch_size, self.device, space
            )
        return self._cache[key]

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, computed once per evaluation under ``key``: two tasks that fit the
        same model (a plugin's task under its own name and under a generic task's) share it."""
        if key not in self._results:
            self._results[key] = compute()
        return self._results[key]

    def splits(self) -> list[str]:
        return self.data.split_names()

    def extra(self) -> dict[str, Any]:
        return {}
