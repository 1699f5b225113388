"""The molecules plugin's :class:`DomainData`: featurised molecules, their labels and splits.

Training items are PyG ``Data`` graphs (``x``, ``edge_index``, ``edge_attr``: integer
features, see :mod:`sslkit.molecules.data.featurise`); the method's view transform runs on
each in the DataLoader workers and :meth:`MoleculeSet.collate` batches what it returns (a
graph, or a tuple of graphs: one batch per view).

Inputs handed to ``Method.embed`` are dicts of tensors: ``x``, ``edge_index``, ``edge_attr``
(the molecules as one disconnected graph), ``batch`` (the molecule of each atom) and
``atoms`` (the atom count of each molecule: its length is the number of molecules, so an
exported ONNX encoder has a dynamic batch axis).

Token inputs (the ``mlm`` method, :meth:`MoleculeSet.use_tokens`): the molecules' canonical
SMILES tokenised (:mod:`~sslkit.molecules.data.tokens`), inputs ``{"tokens": (molecules,
longest) int64}`` right-padded with ``[pad]`` (id 0); training items are id arrays.

Labels: ``labels`` holds every task ``(molecules, tasks)`` with NaN for a missing label; the
labels of ``eval_batches`` (what core's generic tasks read) are the first task's: class ids
(-1 where missing) or floats (NaN where missing); the "did pretraining pay?" section reads every
task (:meth:`MoleculeSet.task_labels`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import UsageError
from sslkit.molecules.data.cache import Featurised
from sslkit.molecules.data.tokens import Tokeniser, pad

log = logging.getLogger("sslkit.molecules")


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
        tokeniser: Tokeniser | None = None,
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
        self._library_data: Featurised | None = None
        self.tokeniser = tokeniser
        """Set: the inputs are token ids (``mlm``; restored from a run's state)."""
        self._token_ids: list[np.ndarray] | None = None
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
    def _library(self) -> Featurised:
        if self._library_data is None:
            assert self.library is not None
            self._library_data = self.library()
        return self._library_data

    def _pretrain_rows(self) -> np.ndarray | None:
        """The data's molecules pretraining sees (None: the pretraining library's)."""
        if self.library is not None:
            return None
        if self.pretrain_on == "train" and self.labels is not None and "train" in self.splits:
            return self.splits["train"]
        return np.arange(len(self.graphs))

    def train_dataset(self) -> list[Any]:
        """The molecules pretraining sees: the pretraining library's (``data.pretrain_data``)
        when there is one, else the train split's (``data.pretrain_on=train``) when the data
        has labels to score, else all of them (an unlabelled library). Graphs, or token id
        arrays in token mode."""
        rows = self._pretrain_rows()
        if self.tokeniser is not None:
            if rows is not None:
                return [self.token_ids()[i] for i in rows]
            ids, counts = self.tokeniser.encode(self._library().smiles)
            self._log_tokens(str(self.facts.get("pretrain_data")), len(ids), counts)
            return ids
        if rows is None:
            if self._library_graphs is None:
                lib = self._library()
                self._library_graphs = [graph_of(lib, k) for k in range(len(lib))]
            return self._library_graphs
        return [self.graphs[i] for i in rows]

    def collate(self, items: list[Any]) -> Any:
        if isinstance(items[0], dict):  # token views: {"tokens": ids, "labels": targets}
            fill = {"tokens": self.tokeniser.pad_id if self.tokeniser else 0, "labels": -100}
            return {k: pad([it[k] for it in items], fill.get(k, 0)) for k in items[0]}
        if isinstance(items[0], np.ndarray):
            return {"tokens": pad(items, self.tokeniser.pad_id if self.tokeniser else 0)}
        if isinstance(items[0], tuple):  # views; a pair whose view has no atom is left out
            kept = [it for it in items if all(int(v.num_nodes) > 0 for v in it)] or items
            return tuple(Batch.from_data_list(list(view)) for view in zip(*kept))
        return Batch.from_data_list(items)

    # -- token inputs -------------------------------------------------------------------------
    def use_tokens(self, kind: str, max_length: int) -> Tokeniser:
        """Switch the inputs to token ids of ``kind`` (selfies, smiles): the vocabulary is
        fitted on the molecules pretraining reads, unless the data holds one already (a run's
        state), which must then be of the same kind and length."""
        t = self.tokeniser
        if t is not None:
            if (t.kind, t.max_length) != (kind, int(max_length)):
                raise UsageError(
                    f"the run's tokens are {t.kind} of at most {t.max_length}, not {kind} of "
                    f"{max_length}; keep method.tokens and method.max_length as the run had them"
                )
            return t
        rows = self._pretrain_rows()
        smiles = self._library().smiles if rows is None else [self.smiles[i] for i in rows]
        self.tokeniser = Tokeniser.fit(smiles, kind, max_length)
        self._state["tokens"] = self.tokeniser.state()
        return self.tokeniser

    def token_ids(self) -> list[np.ndarray]:
        """The token ids of the data's molecules (token mode)."""
        assert self.tokeniser is not None, "use_tokens() first"
        if self._token_ids is None:
            self._token_ids, counts = self.tokeniser.encode(self.smiles)
            self.facts["tokens"] = counts
            self._log_tokens(str(self.facts.get("source")), len(self._token_ids), counts)
        return self._token_ids

    def _log_tokens(self, source: str, n: int, counts: dict[str, int]) -> None:
        """One line with the counts; a warning when molecules were cut or not encodable."""
        t = self.tokeniser
        assert t is not None
        lost = counts["truncated"] or counts["unencodable"]
        (log.warning if lost else log.info)(
            "%s: %d molecules as %s tokens (vocabulary %d): %d longer than %d tokens truncated "
            "(method.max_length), %d not encodable, %d unknown tokens",
            source,
            n,
            t.kind,
            len(t),
            counts["truncated"],
            t.max_length,
            counts["unencodable"],
            counts["unknown_tokens"],
        )

    def inputs_of(self, index: Any) -> dict[str, torch.Tensor]:
        """The ``embed`` inputs of the molecules ``index`` (graphs, or tokens in token mode)."""
        if self.tokeniser is not None:
            ids = self.token_ids()
            return {"tokens": pad([ids[i] for i in index], self.tokeniser.pad_id)}
        return batch_inputs([self.graphs[i] for i in index])

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
            inputs = self.inputs_of(part)
            yield EvalBatch(self.ids[part], inputs, self.first_task(part))

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        yield from self.eval_batches("all", batch_size)

    def example_inputs(self, batch_size: int = 2) -> Any:
        return next(iter(self.eval_batches("all", batch_size))).inputs

    def has_labels(self) -> bool:
        return self.labels is not None and bool(np.isfinite(self.labels[:, 0]).any())

    def task_labels(self, split: str) -> np.ndarray | None:
        """Every task's labels of the split's molecules (NaN: missing) when there are several
        tasks, so that "did pretraining pay?" scores them all; None for one task."""
        if self.labels is None or self.labels.shape[1] < 2:
            return None
        return self.labels[self.split_index(split)].astype(np.float64)

    def task_kind(self) -> str:
        return self.kind if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def fingerprint(self) -> str:
        return str(self.facts.get("fingerprint") or super().fingerprint())
