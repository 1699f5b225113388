"""The speech plugin's :class:`DomainData`: waveforms at the model's rate, labels, speakers,
splits.

Training items are 1-D float32 waveforms; the method's view transform (random crops,
:mod:`sslkit.speech.augment`) runs on each in the DataLoader workers and :meth:`collate`
zero-pads what it returns to the longest crop of the batch: ``{"wave": (B, [views,] L),
"lengths": (B, [views])}``. ``embed`` inputs are ``{"wave": (batch, samples), "lengths":
(batch,)}``: zero-padded waveforms and their valid lengths in samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import UsageError


def pad_waves(waves: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Zero-pad waveforms to the longest: ``{"wave": (B, L), "lengths": (B,)}``."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    out = torch.zeros(len(waves), int(lengths.max()) if len(waves) else 0)
    for i, w in enumerate(waves):
        out[i, : len(w)] = torch.as_tensor(w)
    return {"wave": out, "lengths": lengths}


class SpeechSet(DomainData):
    full_batch = False

    def __init__(
        self,
        waves: list[np.ndarray],
        ids: np.ndarray,
        labels: np.ndarray | None,
        speakers: np.ndarray | None,
        splits: dict[str, np.ndarray],
        *,
        probe_label: str,
        pretrain_on: str,
        info: dict[str, Any],
        facts: dict[str, Any],
        state: dict[str, Any],
    ):
        self.waves = waves
        self.ids = ids
        self.labels = labels
        """Class ids of the manifest's label (FSDD: the digit), -1 where unknown; or None."""
        self.speakers = speakers
        """Speaker ids, -1 where unknown; or None."""
        self.splits = splits
        self.probe_label = probe_label
        """"label" or "speaker": what ``eval_batches`` yields as labels."""
        self.pretrain_on = pretrain_on
        self.info = info
        self.facts = facts
        """What was read: files, bad files skipped, short files padded, sample rates."""
        self._state = state

    # -- training -------------------------------------------------------------------------------
    def train_dataset(self) -> list[torch.Tensor]:
        index = self.split_index("train" if self.pretrain_on == "train" else "all")
        if len(index) == 0:
            index = self.split_index("all")
        return [torch.from_numpy(self.waves[i]) for i in index]

    def collate(self, items: list[Any]) -> Any:
        if isinstance(items[0], torch.Tensor):  # plain waveforms: no transform
            return pad_waves([w.numpy() for w in items])
        longest = max(int(w.shape[-1]) for w, _ in items)
        waves = torch.stack(
            [torch.nn.functional.pad(w, (0, longest - w.shape[-1])) for w, _ in items]
        )
        lengths = torch.stack([n for _, n in items])
        return {"wave": waves, "lengths": lengths}

    # -- evaluation -----------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        return [s for s in ("train", "val", "test") if len(self.splits.get(s, ()))]

    def split_index(self, split: str) -> np.ndarray:
        if split == "all":
            return np.arange(len(self.waves))
        if split not in self.splits:
            raise UsageError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        return self.splits[split]

    def target(self, kind: str, index: np.ndarray) -> np.ndarray | None:
        """Class ids of ``kind`` ("label" or "speaker") for the files ``index``."""
        y = self.labels if kind == "label" else self.speakers
        return None if y is None else y[index]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        index = self.split_index(split)
        bs = max(int(batch_size), 1)
        for start in range(0, len(index), bs):
            part = index[start : start + bs]
            inputs = pad_waves([self.waves[i] for i in part])
            yield EvalBatch(self.ids[part], inputs, self.target(self.probe_label, part))

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        yield from self.eval_batches("all", batch_size)

    def example_inputs(self, batch_size: int = 2) -> Any:
        return next(iter(self.eval_batches("all", batch_size))).inputs

    def has_labels(self) -> bool:
        y = self.target(self.probe_label, np.arange(len(self.waves)))
        return y is not None and bool((y >= 0).any())

    def task_kind(self) -> str:
        return "classification" if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def fingerprint(self) -> str:
        return str(self.facts.get("fingerprint") or super().fingerprint())
