"""The molecules plugin's :class:`DomainData`: featurised molecules, their labels and splits.

Training items are PyG ``Data`` graphs (``x``, ``edge_index``, ``edge_attr``: integer
features, see :mod:`sslkit.molecules.data.featurise`); the method's view transform runs on
each in the DataLoader workers and :meth:`MoleculeSet.collate` batches what it returns (a
graph, or a tuple of graphs: one batch per view).

Inputs handed to ``Method.embed`` are dicts of tensors: ``x``, ``edge_index``, ``edge_attr``
(the molecules as one disconnected graph), ``batch`` (the molecule of each atom) and
``atoms`` (the atom count of each molecule: its length is the number of molecules, so an
exported ONNX encoder has a dynamic batch axis).

Labels: ``labels`` holds every task ``(molecules, tasks)`` with NaN for a missing label; the
labels of ``eval_batches`` (what core's generic tasks and the "did pretraining pay?" section
read) are the first task's: class ids (-1 where missing) or floats (NaN where missing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import UsageError
from sslkit.molecules.data.cache import Featurised


def graph_of(f: Featurised, k: int) -> Data:
    x, ei, ea = f.molecule(k)
    return Data(
        x=torch.from_numpy(np.ascontiguousarray(x)),
        edge_index=torch.from_numpy(np.ascontiguousarray(ei)),
        edge_attr=torch.from_numpy(np.ascontiguousarray(ea)),
        num_nodes=int(x.shape[0]),
    )


def batch_inputs(graphs: list[Data]) -> dict[str, torch.Tensor]:
    """The ``embed`` inputs of a list of molecule graphs (see the module's docstring)."""
    b = Batch.from_data_list(graphs)
    atoms = torch.tensor([int(g.num_nodes) for g in graphs], dtype=torch.long)
    return {
        "x": b.x,
        "edge_index": b.edge_index,
        "edge_attr": b.edge_attr,
        "batch": b.batch,
        "atoms": atoms,
    }


class MoleculeSet(DomainData):
    full_batch = False

    def __init__(
        self,
        featurised: Featurised,
        *,
        labels: np.ndarray | None,
        tasks: list[str],
        kind: str,
        splits: dict[str, np.ndarray],
        ids: np.ndarray,
        pretrain_on: str,
        library: Callable[[], Featurised] | None = None,
        info: dict[str, Any],
        facts: dict[str, Any],
        state: dict[str, Any],
    ):
        self.featurised = featurised
        self.graphs = [graph_of(featurised, k) for k in range(len(featurised))]
        self.labels = labels
        self.tasks = tasks
        self.kind = kind
        self.splits = splits
        self.ids = ids
        self.pretrain_on = pretrain_on
        self.library = library
        """Featurises the molecules to pretrain on when not the data's own (ZINC, ...)."""
        self._library_graphs: list[Data] | None = None
        self.info = info
        """The featuriser's constants the encoder is built from (a run's data must match)."""
        self.facts = facts
        """What was read: source, SMILES column, molecules, invalid, tasks, split sizes,
        featurisation time and cache use, content fingerprint."""
        self._state = state

    @property
    def smiles(self) -> list[str]:
        return self.featurised.smiles

    # -- training -----------------------------------------------------------------------------
    def train_dataset(self) -> list[Data]:
        """The molecules pretraining sees: the pretraining library's (``data.pretrain_data``)
        when there is one, else the train split's (``data.pretrain_on=train``) when the data
        has labels to score, else all of them (an unlabelled library)."""
        if self.library is not None:
            if self._library_graphs is None:
                lib = self.library()
                self._library_graphs = [graph_of(lib, k) for k in range(len(lib))]
            return self._library_graphs
        if self.pretrain_on == "train" and self.labels is not None and "train" in self.splits:
            return [self.graphs[i] for i in self.splits["train"]]
        return self.graphs

    def collate(self, items: list[Any]) -> Any:
        if isinstance(items[0], tuple):
            return tuple(Batch.from_data_list(list(view)) for view in zip(*items))
        return Batch.from_data_list(items)

    # -- evaluation ---------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        return [s for s in ("train", "val", "test") if len(self.splits.get(s, ()))]

    def split_index(self, split: str) -> np.ndarray:
        if split == "all":
            return np.arange(len(self.graphs))
        if split not in self.splits:
            raise UsageError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        return self.splits[split]

    def first_task(self, index: np.ndarray) -> np.ndarray | None:
        """The first task's labels of the molecules ``index``: class ids (-1: missing) or
        floats (NaN: missing)."""
        if self.labels is None:
            return None
        y = self.labels[index, 0]
        if self.kind == "classification":
            return np.where(np.isfinite(y), y, -1).astype(np.int64)
        return y.astype(np.float64)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        index = self.split_index(split)
        bs = max(int(batch_size), 1)
        for start in range(0, len(index), bs):
            part = index[start : start + bs]
            inputs = batch_inputs([self.graphs[i] for i in part])
            yield EvalBatch(self.ids[part], inputs, self.first_task(part))

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        yield from self.eval_batches("all", batch_size)

    def example_inputs(self, batch_size: int = 2) -> Any:
        return next(iter(self.eval_batches("all", batch_size))).inputs

    def has_labels(self) -> bool:
        return self.labels is not None and bool(np.isfinite(self.labels[:, 0]).any())

    def task_kind(self) -> str:
        return self.kind if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def fingerprint(self) -> str:
        return str(self.facts.get("fingerprint") or super().fingerprint())
