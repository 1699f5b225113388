"""Streamed Parquet: :class:`StreamedTable`, a Parquet file (or folder) read in record batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import DataError
from sslkit.tabular.configs import TabularData
from sslkit.tabular.data.memory import _ids, _inputs
from sslkit.tabular.data.reading import _is_parquet, parquet_files, parquet_frames, split_mask
from sslkit.tabular.schema import Schema


def _should_stream(path: Path, config: TabularData) -> bool:
    if not _is_parquet(path) or config.stream == "memory":
        return False
    if config.stream == "stream":
        return True
    size = sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return size > config.stream_threshold_mb * 2**20


class StreamedTable(DomainData):
    """A Parquet file (or folder) read in record batches; never held in memory as a whole.

    The preprocessing is fitted on the train-split rows among the first ``fit_rows`` rows. Pretraining reads the train rows
    of every record batch, shuffled within the batch, and keeps row ``i`` on shard
    ``i % num_shards`` (:func:`sslkit.core.distributed.shard_info`), so ranks and DataLoader
    workers read disjoint rows. Streamed data has no length: set ``train.max_steps``.
    """

    def __init__(self, path: Path, config: TabularData, schema: Schema, read_batch: int = 65536):
        self.path = path
        self.config = config
        self.schema = schema
        self.read_batch = read_batch
        self.info = schema.info()

    def _frames(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(offset, frame)`` of consecutive rows (:func:`parquet_frames`)."""
        files = parquet_files(self.path)
        yield from parquet_frames(files, self.read_batch, self.config.max_rows)

    def _held(self, offset: int, n: int) -> np.ndarray:
        rows = np.arange(offset, offset + n)
        return split_mask(rows, self.config.split_seed, self.config.test_fraction)

    def train_dataset(self) -> Any:
        return _StreamDataset(self)

    def collate(self, items: Any) -> Any:
        from torch.utils.data import default_collate

        return default_collate(items)

    def split_names(self) -> list[str]:
        return ["train", "test"]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        import torch

        if split not in ("train", "test"):
            raise DataError(f"unknown split {split!r}; splits: train, test")
        for offset, df in self._frames():
            keep = self._held(offset, len(df)) == (split == "test")
            if not keep.any():
                continue
            part = df[keep]
            num, cat = self.schema.transform(part, str(self.path))
            y = self.schema.transform_target(part, str(self.path))
            ids = _ids(part, self.config.id_column, 0)
            if not (self.config.id_column and self.config.id_column in part.columns):
                ids = np.arange(offset, offset + len(df))[keep]
            for start in range(0, len(part), batch_size):
                sl = slice(start, start + batch_size)
                yield EvalBatch(
                    ids=ids[sl],
                    inputs=_inputs(torch.from_numpy(num[sl]), torch.from_numpy(cat[sl])),
                    labels=None if y is None else y[sl],
                )

    def has_labels(self) -> bool:
        return self.schema.target is not None

    def task_kind(self) -> str:
        return self.schema.target["kind"] if self.schema.target else "none"

    def state(self) -> dict[str, Any]:
        return self.schema.to_state()


def _make_stream_dataset_class() -> type:
    from torch.utils.data import IterableDataset

    class StreamDataset(IterableDataset):
        """Rows of the train split of a :class:`StreamedTable`, sharded and shuffled in batches."""

        def __init__(self, table: StreamedTable):
            self.table = table
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            """The engine calls this before each epoch (``TrainData.epoch``): the shuffle of
            epoch ``e`` depends on ``e`` only, so a resumed run sees the same data order."""
            self.epoch = int(epoch)

        def __iter__(self) -> Iterator[dict[str, Any]]:
            import torch

            from sslkit.core.distributed import shard_info

            shard, n_shards = shard_info()
            rng = np.random.default_rng([self.table.config.split_seed, self.epoch])
            for offset, df in self.table._frames():
                rows = np.arange(offset, offset + len(df))
                keep = ~self.table._held(offset, len(df)) & (rows % n_shards == shard)
                if not keep.any():
                    continue
                num, cat = self.table.schema.transform(df[keep], str(self.table.path))
                order = rng.permutation(len(num))
                num_t, cat_t = torch.from_numpy(num[order]), torch.from_numpy(cat[order])
                for i in range(len(order)):
                    yield _inputs(num_t[i], cat_t[i])

    return StreamDataset


def _StreamDataset(table: StreamedTable) -> Any:
    global _STREAM_CLASS
    if _STREAM_CLASS is None:
        _STREAM_CLASS = _make_stream_dataset_class()
    return _STREAM_CLASS(table)


_STREAM_CLASS: type | None = None
