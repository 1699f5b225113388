"""What a plugin's ``load_data`` returns: :class:`DomainData`.

One object carries a domain's data through a run: the training stream for the engine, the
evaluation splits (with ids and optional labels) for ``evaluate`` and ``export``, the ``info``
a method needs to be built (feature counts, vocabulary sizes) and the fitted preprocessing
``state`` saved with the run, so that evaluate and export reuse exactly what training fitted.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class EvalBatch:
    """A batch for embedding: ``inputs`` is what ``Method.embed`` takes (a tensor or a dict of
    tensors); ``ids`` name the rows; ``labels`` (numpy, optional) feed probes and plots."""

    ids: Any
    inputs: Any
    labels: Any = None


class DomainData(ABC):
    """A loaded data set of one domain, with its preprocessing fitted (or reused)."""

    #: JSON-serialisable facts the method builder needs (saved as ``info.json`` in the run).
    info: dict[str, Any]

    @abstractmethod
    def train_dataset(self) -> Any:
        """A ``torch.utils.data.Dataset`` (map-style) or ``IterableDataset`` (streamed) for
        pretraining. Streamed datasets shard themselves with
        :func:`sslkit.core.distributed.shard_info` (rank and DataLoader worker)."""

    def collate(self, items: list[Any]) -> Any:
        """Turn a list of dataset items into a training batch (default: torch's)."""
        from torch.utils.data import default_collate

        return default_collate(items)

    #: True when one batch is the whole data set (full-graph training): the engine then
    #: runs one step per epoch with ``train_dataset()`` itself as the batch (no DataLoader),
    #: and writes epoch-end checkpoints about ten times a run instead of every epoch.
    full_batch: bool = False

    @abstractmethod
    def split_names(self) -> list[str]:
        """Evaluation splits, e.g. ``["train", "test"]``; ``"train"`` fits probes, the others
        score them."""

    @abstractmethod
    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        """Batches of one split, in a fixed order, for embedding.

        Data of a method with several embedding spaces (``Method.spaces``, e.g. users and
        items) takes ``eval_batches(split, batch_size, space=None)`` and yields the rows of
        that space (user ids for ``"user"``, item ids for ``"item"``; ``None``: the default
        space). Core passes ``space=`` only when it names one, so one-space data keeps this
        signature."""

    def export_batches(self, batch_size: int, space: str | None = None) -> Iterator[EvalBatch]:
        """Every row (of ``space``), once, for ``sslkit export`` (default: all splits in order).

        Data whose spaces' rows are the same in every split (all users, all items) overrides
        it to yield each row once."""
        for split in self.split_names():
            yield from space_batches(self, split, batch_size, space)

    def interactions(self, split: str) -> tuple[Any, Any] | None:
        """The user-item pairs of ``split`` as ``(user ids, item ids)`` (two equally long
        arrays, ids as ``eval_batches`` of the two spaces name them), for recommendation
        metrics (:mod:`sslkit.core.evaluate.recommend`); None when the data has none."""
        return None

    def has_labels(self) -> bool:
        return False

    def task_labels(self, split: str) -> Any:
        """Every task's labels of the split's rows, in ``eval_batches`` order: a ``(rows,
        tasks)`` float array, NaN where a label is missing, for data with several tasks (e.g.
        Tox21's twelve assays); None (the default) when the one label of ``eval_batches`` is
        the task. The "did pretraining pay?" section then scores every task with at least
        two classes in its train and test rows and reports the mean over them."""
        return None

    def task_kind(self) -> str:
        """``classification``, ``regression`` or ``none``: what generic probes fit on labels."""
        return "classification" if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        """The fitted preprocessing as JSON (passed back to ``load_data(config, state=...)``)."""
        return {}

    def fingerprint(self) -> str:
        """A short hash identifying the data (for the model card)."""
        return hashlib.sha256(repr(sorted(self.info.items())).encode()).hexdigest()[:16]

    def example_inputs(self, batch_size: int = 2, space: str | None = None) -> Any:
        """Inputs of a small batch (of ``space``), for tracing (ONNX) and shape checks."""
        split = self.split_names()[0]
        return next(iter(space_batches(self, split, batch_size, space))).inputs


def space_batches(
    data: DomainData, split: str, batch_size: int, space: str | None = None
) -> Iterator[EvalBatch]:
    """``data.eval_batches(split, batch_size)`` for the default space, with ``space=`` for a
    named one (one-space data need not take the keyword)."""
    if space is None:
        return iter(data.eval_batches(split, batch_size))
    return iter(data.eval_batches(split, batch_size, space=space))  # type: ignore[call-arg]


def space_export_batches(
    data: DomainData, batch_size: int, space: str | None = None
) -> Iterator[EvalBatch]:
    """``data.export_batches(batch_size)``, with ``space=`` only for a named space."""
    if space is None:
        return iter(data.export_batches(batch_size))
    return iter(data.export_batches(batch_size, space=space))  # type: ignore[call-arg]


def space_example_inputs(data: DomainData, batch_size: int = 2, space: str | None = None) -> Any:
    """``data.example_inputs(batch_size)``, with ``space=`` only for a named space."""
    if space is None:
        return data.example_inputs(batch_size)
    return data.example_inputs(batch_size, space=space)  # type: ignore[call-arg]


def cache_dir(domain: str) -> Path:
    """Where a plugin keeps what it derives from data (featurised molecules, built graphs):
    ``$SSLKIT_CACHE/<domain>``, else ``$XDG_CACHE_HOME/sslkit/<domain>``, else
    ``~/.cache/sslkit/<domain>``."""
    root = os.environ.get("SSLKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sslkit"
    )
    return Path(root) / domain
