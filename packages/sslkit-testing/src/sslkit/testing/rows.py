"""A tiny :class:`~sslkit.core.data.DomainData` for engine and objective tests: random rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import TensorDataset

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.engine.loader import ParquetStream

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RandomRows"]


def _rows(batch: pa.RecordBatch) -> list[torch.Tensor]:
    return [torch.tensor(r) for r in batch.column("x").to_pylist()]


class RandomRows(DomainData):
    """``n`` random rows of 8 features (seed 1), map-style, or streamed (``parquet``: a Parquet
    file with a list column ``x``, read by row groups with
    :class:`~sslkit.core.engine.loader.ParquetStream`, seed 3); one split, ``train``."""

    def __init__(self, parquet: str | None = None, n: int = 256):
        self.x = torch.randn(n, 8, generator=torch.Generator().manual_seed(1))
        self.parquet = parquet
        self.info = {"features": 8}

    def train_dataset(self):
        if self.parquet is None:
            return TensorDataset(self.x)
        return ParquetStream(self.parquet, _rows, seed=3)

    def collate(self, items):
        return torch.stack([i[0] if isinstance(i, tuple | list) else i for i in items]).float()

    def split_names(self):
        return ["train"]

    def eval_batches(self, split, batch_size):
        for s in range(0, len(self.x), batch_size):
            yield EvalBatch(
                np.arange(s, min(s + batch_size, len(self.x))), self.x[s : s + batch_size]
            )
