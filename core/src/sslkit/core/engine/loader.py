"""Training data: DataLoader set-up, sharding over ranks and a resumable data order.

Map-style data go through :class:`ResumableSampler`, a ``DistributedSampler`` (each rank a
disjoint slice of one seeded permutation per epoch) that can start in the middle of an epoch.
Streamed data (``IterableDataset``) shard themselves with
:func:`sslkit.core.distributed.shard_info` (rank x DataLoader worker; :class:`ParquetStream`
does); the loop agrees across ranks on when a stream has run out, and resuming skips the
batches of the epoch already seen. A method's ``train_transform()`` runs per example inside the
dataset (in the workers), with a generator seeded per example (:mod:`sslkit.core.engine.views`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset

from sslkit.core.engine.ddp import Env
from sslkit.core.engine.method import move_to
from sslkit.core.engine.views import Transform, with_views


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (same permutation: ``randperm(n)`` seeded with ``seed + epoch``)
    that skips the first ``start`` positions of the epoch's order before sharding, so a run
    resumed mid-epoch sees exactly the samples it had not seen yet."""

    def __init__(self, dataset, num_replicas: int, rank: int, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        self.set_epoch(epoch)
        self.start = start

    def _order(self) -> list[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        indices = indices[self.start :]
        size = math.ceil(len(indices) / self.num_replicas) * self.num_replicas
        if len(indices) < size:  # pad with the head, as DistributedSampler does
            indices += (indices * math.ceil(size / max(1, len(indices))))[: size - len(indices)]
        return indices

    def __iter__(self) -> Iterator[int]:
        return iter(self._order()[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        return math.ceil(max(0, len(self.dataset) - self.start) / self.num_replicas)


class HeldOut(torch.utils.data.Dataset):
    """The examples ``indices`` of a map-style ``dataset`` (``set_epoch`` passed on)."""

    def __init__(self, dataset: Any, indices: list[int]):
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[self.indices[i]]

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


def holdout_split(dataset: Any, fraction: float, seed: int) -> tuple[HeldOut, HeldOut]:
    """(kept, held): a fixed cut of ``fraction`` of a map-style dataset's examples (at least
    one, at most all but one), chosen by a permutation seeded with ``seed`` only, the same on
    every rank and every resume."""
    n = len(dataset)
    k = min(max(1, round(fraction * n)), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104_729)).tolist()
    return HeldOut(dataset, sorted(order[k:])), HeldOut(dataset, sorted(order[:k]))


class TrainData:
    """The training stream of one run: ``epoch(e, skip)`` yields this rank's micro-batches.

    ``transform`` (the method's ``train_transform()``) is applied to every example of map-style
    and streamed data before ``data.collate`` (:func:`~sslkit.core.engine.views.with_views`);
    full-batch data has no examples and ignores it."""

    def __init__(
        self,
        data: Any,
        batch_size: int,
        accumulate: int,
        seed: int,
        env: Env,
        workers: int,
        transform: Transform | None = None,
        holdout: float = 0.0,
    ):
        self.data, self.env, self.seed = data, env, seed
        self.batch_size, self.accumulate = batch_size, accumulate
        dataset = data.train_dataset()
        self.full_batch = bool(getattr(data, "full_batch", False))
        self.streamed = not self.full_batch and isinstance(dataset, IterableDataset)
        self.held = None  # the held-out examples (early stopping on the validation loss)
        if holdout > 0:
            if self.full_batch or self.streamed:
                from sslkit.core.errors import ConfigError

                kind = "a whole graph per step" if self.full_batch else "a stream"
                raise ConfigError(
                    f'train.early_stop = "val_loss" needs examples to hold out, and this data '
                    f'is {kind}: use train.early_stop = "rankme"'
                )
            if len(dataset) < 2:
                from sslkit.core.errors import DataError

                raise DataError('train.early_stop = "val_loss" needs at least 2 examples')
            dataset, self.held = holdout_split(dataset, holdout, seed)
        self.dataset = dataset
        self.sampler = None
        self.generator = torch.Generator().manual_seed(seed + 7919 * env.rank)
        self.loader = None
        if self.full_batch:
            # on the device once (a copy: the data set's own object stays put), not every step
            self.dataset = move_to(dataset, env.device)
            self.steps_per_epoch = 1
            return
        if not self.streamed:
            self.sampler = ResumableSampler(dataset, env.world_size, env.rank, seed)
        # per example, in the workers; set_epoch (below) reaches the wrapper and the data set
        self.dataset = dataset = with_views(dataset, transform, seed)
        cuda = env.device.type == "cuda"
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=self.sampler,
            drop_last=not self.streamed and len(dataset) // env.world_size > batch_size,
            collate_fn=data.collate,
            num_workers=workers,
            pin_memory=cuda,
            # an explicit generator: creating an iterator never draws from the global RNG
            generator=self.generator,
            persistent_workers=False,
        )
        # optimizer steps per epoch (0: a stream), counted once on a whole epoch: the sampler's
        # length shrinks when a run resumes mid-epoch
        self.steps_per_epoch = 0 if self.streamed else max(1, len(self.loader) // accumulate)

    @property
    def rows(self) -> int | None:
        """Training examples in one pass (None: a stream; 1: a whole graph)."""
        if self.full_batch:
            return 1
        return None if self.streamed else len(self.dataset)

    def held_batches(self, transform: Transform | None, max_rows: int) -> list[Any]:
        """The held-out examples as fixed batches of ``batch_size`` (views drawn once, with a
        seed of their own; at most ``max_rows`` rows; a last partial batch is dropped when
        there is a full one, so that every batch has as many negatives as in training)."""
        if self.held is None:
            return []
        held = with_views(self.held, transform, self.seed + 15_485_863)
        loader = DataLoader(held, batch_size=self.batch_size, shuffle=False,
                            collate_fn=self.data.collate, num_workers=0)  # fmt: skip
        out, rows = [], 0
        for batch in loader:
            n = _rows(batch)
            if out and n < self.batch_size:
                break
            out.append(batch)
            rows += n
            if rows >= max_rows:
                break
        return out

    @property
    def micro_per_epoch(self) -> int:
        """Micro-batches used per epoch: a multiple of ``accumulate`` (the rest is dropped)."""
        return self.steps_per_epoch * (1 if self.full_batch else self.accumulate)

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[Any]:
        """This rank's micro-batches of ``epoch``, without the first ``skip`` (already trained)."""
        if self.full_batch:
            return iter([self.dataset] * (1 - min(skip, 1)))
        # worker seeds follow (seed, epoch, rank) only
        self.generator.manual_seed((self.seed * 1_000_003 + epoch * 7919 + self.env.rank) % 2**62)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        if self.streamed:
            return itertools.islice(iter(self.loader), skip, None)
        # the global position: ``skip`` micro-batches of every rank were consumed
        self.sampler.set_position(epoch, skip * self.batch_size * self.env.world_size)
        return itertools.islice(iter(self.loader), self.micro_per_epoch - skip)


def _rows(batch: Any) -> int:
    """The leading size of a collated batch's first tensor (0 when it holds none)."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0] if batch.ndim else 1
    values = batch.values() if isinstance(batch, dict) else (
        batch if isinstance(batch, list | tuple) else vars(batch).values()
        if hasattr(batch, "__dict__") else [])  # fmt: skip
    for v in values:
        n = _rows(v)
        if n:
            return n
    return 0


class ParquetStream(IterableDataset):
    """Rows of Parquet files read with pyarrow in record batches, for data larger than memory.

    Record batches are dealt round-robin to shards (rank x DataLoader worker), their order
    shuffled per epoch with ``seed + epoch`` (and the rows within a batch too), so each row is
    read once per epoch by exactly one shard. ``transform(record_batch)`` turns a
    ``pyarrow.RecordBatch`` into a list of training items.
    """

    def __init__(
        self, paths, transform, *, batch_rows: int = 8192, seed: int = 0, shuffle: bool = True
    ):
        import pyarrow.dataset as ds

        self.paths = [str(p) for p in ([paths] if isinstance(paths, str | bytes) else paths)]
        self.transform, self.batch_rows = transform, batch_rows
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0
        self._fragments = [
            (i, frag.path, rg.id)
            for i, frag in enumerate(ds.dataset(self.paths, format="parquet").get_fragments())
            for rg in frag.row_groups
        ]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        import numpy as np
        import pyarrow.parquet as pq

        from sslkit.core.distributed import shard_info

        shard, shards = shard_info()
        rng = np.random.default_rng(self.seed + self.epoch)
        units = list(self._fragments)
        if self.shuffle:
            units = [units[i] for i in rng.permutation(len(units))]
        for k, (_, path, row_group) in enumerate(units):
            if k % shards != shard:
                continue
            table = pq.ParquetFile(path).read_row_group(row_group)
            for batch in table.to_batches(max_chunksize=self.batch_rows):
                items = self.transform(batch)
                order = rng.permutation(len(items)) if self.shuffle else range(len(items))
                for i in order:
                    yield items[i]
