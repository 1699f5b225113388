"""What a plugin's ``load_data`` returns: :class:`DomainData`.

One object carries a domain's data through a run: the training stream for the engine, the
evaluation splits (with ids and optional labels) for ``evaluate`` and ``export``, the ``info``
a method needs to be built (feature counts, vocabulary sizes) and the fitted preprocessing
``state`` saved with the run, so that evaluate and export reuse exactly what training fitted.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
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
        """Batches of one split, in a fixed order, for embedding."""

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        """Every row, once, for ``sslkit export`` (default: all splits in order)."""
        for split in self.split_names():
            yield from self.eval_batches(split, batch_size)

    def has_labels(self) -> bool:
        return False

    def task_kind(self) -> str:
        """``classification``, ``regression`` or ``none``: what generic probes fit on labels."""
        return "classification" if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        """The fitted preprocessing as JSON (passed back to ``load_data(config, state=...)``)."""
        return {}

    def fingerprint(self) -> str:
        """A short hash identifying the data (for the model card)."""
        return hashlib.sha256(repr(sorted(self.info.items())).encode()).hexdigest()[:16]

    def example_inputs(self, batch_size: int = 2) -> Any:
        """Inputs of a small batch, for tracing (ONNX) and shape checks."""
        split = self.split_names()[0]
        return next(iter(self.eval_batches(split, batch_size))).inputs
