"""Views made per training example, in the DataLoader workers: ``Method.train_transform()``.

A method whose views belong with the data (multi-crop, random audio crops, MONAI random
transforms, molecule augmentations) returns from ``train_transform()`` a small picklable
callable ``transform(example, rng) -> example``. The engine wraps the plugin's training dataset
(:func:`with_views`) so that every example goes through it before ``DomainData.collate``: in the
DataLoader workers with ``train.num_workers > 0``, in the main process otherwise.

``rng`` is a fresh ``torch.Generator`` per example, seeded from the run's seed, the epoch and
the example's key, and nothing else:

- map-style data: the key is the dataset index, so an example's views are the same whichever
  worker (or none) loads it, whichever rank's slice holds it, and in a run resumed mid-epoch;
- streamed data (``IterableDataset``): the key is ``(shard, shards, k)`` from
  :func:`sslkit.core.distributed.shard_info`, the k-th example this shard yields in the epoch;
  a resumed run replays the epoch's stream, so the views repeat. (A stream's shards are rank x
  worker, so its batches depend on ``train.num_workers`` anyway.)

While the transform runs, torch's default CPU generator is seeded from the same key as well
(and restored afterwards), so ``torch.rand_like`` and transforms that draw from torch's global
generator are just as reproducible and leave the training step's random numbers alone. NumPy's
and Python's global generators are not seeded (that costs ~0.1 ms per example): draw from
``rng``, or seed a library's own generator from it
(``int(torch.randint(2**31, (1,), generator=rng))``).

Full-batch data (``DomainData.full_batch``, one whole graph per step) has no examples: the
engine does not call ``train_transform()`` there; such a method draws its views in
``training_step``.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset

Transform = Callable[[Any, torch.Generator], Any]

_MASK = (1 << 64) - 1
_MAP, _STREAM = 0x5EED_0001, 0x5EED_0002  # keep the two kinds of keys apart


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def sample_seed(*keys: int) -> int:
    """A 63-bit seed that depends on every key (SplitMix64 over the keys, in order)."""
    h = 0x243F6A8885A308D3
    for k in keys:
        h = _splitmix(h ^ (int(k) & _MASK))
    return h >> 1


def apply_transform(transform: Transform, example: Any, seed: int) -> Any:
    """``transform(example, rng)`` with ``rng`` seeded with ``seed``, and torch's default CPU
    generator seeded from ``seed`` during the call (its state is restored afterwards)."""
    rng = torch.Generator().manual_seed(seed)
    state = torch.default_generator.get_state()
    torch.default_generator.manual_seed(_splitmix(seed) >> 1)
    try:
        return transform(example, rng)
    finally:
        torch.default_generator.set_state(state)


class _Views:
    """What :class:`MapViews` and :class:`StreamViews` share: the wrapped dataset, the transform,
    the seed and the epoch (passed on to the dataset when it has ``set_epoch``)."""

    def __init__(self, dataset: Any, transform: Transform, seed: int, epoch: int = 0):
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


class MapViews(_Views, Dataset):
    """A map-style dataset whose item ``i`` is ``transform(dataset[i], rng)``, ``rng`` seeded
    with ``(seed, epoch, i)``."""

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        seed = sample_seed(_MAP, self.seed, self.epoch, index)
        return apply_transform(self.transform, self.dataset[index], seed)


class StreamViews(_Views, IterableDataset):
    """A stream whose k-th example of shard ``s`` (of ``n``, from
    :func:`~sslkit.core.distributed.shard_info`) in an epoch goes through ``transform`` with
    ``rng`` seeded with ``(seed, epoch, s, n, k)``."""

    def __iter__(self) -> Iterator[Any]:
        from sslkit.core.distributed import shard_info

        shard, shards = shard_info()
        for k, example in enumerate(self.dataset):
            seed = sample_seed(_STREAM, self.seed, self.epoch, shard, shards, k)
            yield apply_transform(self.transform, example, seed)


def with_views(dataset: Any, transform: Transform | None, seed: int, epoch: int = 0) -> Any:
    """``dataset`` with ``transform`` applied per example (:class:`MapViews` for map-style data,
    :class:`StreamViews` for an ``IterableDataset``); ``dataset`` itself when ``transform`` is
    None. What the engine does to the training data; a hand-written loop uses it the same way
    (call ``set_epoch(e)`` on the result before each epoch)."""
    if transform is None:
        return dataset
    cls = StreamViews if isinstance(dataset, IterableDataset) else MapViews
    return cls(dataset, transform, seed, epoch)


class _FindModules(pickle.Pickler):
    """Pickles to nowhere, noting every ``nn.Module`` on the way."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: list[str] = []

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, torch.nn.Module):
            self.modules.append(type(obj).__name__)
            return len(self.modules)  # not pickled further
        return None


def train_transform_of(method: Any) -> Transform | None:
    """``method.train_transform()``, checked: None, or a callable that pickles (DataLoader
    workers started with spawn or forkserver receive it pickled) and holds no ``nn.Module``
    (the method itself, a bound method of it, its encoder): workers get the small transform,
    never the model."""
    hook = getattr(method, "train_transform", None)
    transform = hook() if callable(hook) else None
    if transform is None:
        return None
    name = f"{type(method).__name__}.train_transform()"
    if not callable(transform):
        raise TypeError(f"{name} returned {type(transform).__name__}, not a callable")
    finder = _FindModules()
    try:
        finder.dump(transform)
    except Exception as exc:
        raise TypeError(
            f"{name} returned {transform!r}, which cannot be pickled ({exc}); return an "
            "instance of a module-level class (or a functools.partial of a module-level "
            "function), not a lambda or a closure"
        ) from exc
    if finder.modules:
        raise TypeError(
            f"{name} returned an object holding {', '.join(sorted(set(finder.modules)))} "
            "(nn.Module): DataLoader workers would get a copy of the model; return a small "
            "object with only the views' settings (sizes, probabilities)"
        )
    return transform
