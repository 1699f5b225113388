"""The graphs plugin's :class:`DomainData`: one node-level graph, one hypergraph, or a set of
graphs (graph-level data).

Inputs handed to ``Method.embed`` are dicts of tensors:

- node level: ``{"x", "edge_index", "nodes"}``: embed the graph, return the rows ``nodes``;
- hypergraph: ``{"x", "hyperedge_index", "nodes"}`` (``hyperedge_index`` is ``[node; edge]``);
- graph level: ``{"x", "edge_index", "batch"}``: one embedding per graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from sslkit.core.data import DomainData, EvalBatch
from sslkit.graphs.encoders import batch_graphs


def _fingerprint(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        a = t.detach().cpu().contiguous().numpy()
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


class GraphDomainData(DomainData):
    """What the graph data classes share: the ``info`` and fitted ``state`` they are built with,
    the fingerprint ``info`` records, and export and example inputs from the split ``all``
    (every node, or every graph)."""

    info: dict[str, Any]
    _state: dict[str, Any]

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        yield from self.eval_batches("all", batch_size)

    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def fingerprint(self) -> str:
        return self.info.get("fingerprint") or super().fingerprint()

    def example_inputs(self, batch_size: int = 2) -> Any:
        return next(iter(self.eval_batches("all", batch_size))).inputs


class NodeGraphData(GraphDomainData):
    """A single graph for node-level SSL (full-graph or neighbour-sampled mini-batches)."""

    def __init__(
        self,
        graph: Data,
        *,
        info: dict[str, Any],
        state: dict[str, Any],
        masks: dict[str, Tensor] | None = None,
        full_batch: bool = True,
        num_neighbors: tuple[int, ...] = (10, 10),
        sampler: str = "auto",
        holdout: dict[str, Tensor] | None = None,
        node_ids: list[str] | None = None,
    ):
        self.graph = graph
        self.info = info
        self._state = state
        self.masks = masks or {}
        self.full_batch = full_batch
        self.num_neighbors = tuple(num_neighbors)
        self.sampler_kind = sampler
        self.holdout = holdout
        self.node_ids = node_ids
        self._sampler = None
        self.graph.batch_size = int(graph.num_nodes)

    # -- training -----------------------------------------------------------------------------
    def sampler(self):
        if self._sampler is None:
            from sslkit.graphs.data.sampler import make_sampler

            self._sampler = make_sampler(self.graph, self.num_neighbors, self.sampler_kind)
        return self._sampler

    def train_dataset(self) -> Any:
        if self.full_batch:
            return [self.graph]
        from sslkit.graphs.data.sampler import NodeIds

        return NodeIds(self.graph.num_nodes)

    def collate(self, items: list[Any]) -> Any:
        if self.full_batch:
            return items[0]
        return self.sampler().sample(torch.tensor(items, dtype=torch.long))

    # -- evaluation ---------------------------------------------------------------------------
    def split_names(self) -> list[str]:
        if self.masks and self.has_labels():
            return [s for s in ("train", "val", "test") if s in self.masks]
        return ["all"]

    def split_nodes(self, split: str) -> Tensor:
        if split == "all":
            return torch.arange(self.graph.num_nodes)
        if split not in self.masks:
            from sslkit.core.errors import UsageError

            raise UsageError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        return torch.nonzero(self.masks[split]).view(-1)

    def _ids(self, nodes: Tensor) -> np.ndarray:
        if self.node_ids is not None:
            return np.asarray([self.node_ids[i] for i in nodes.tolist()])
        return nodes.numpy()

    def _labels(self, nodes: Tensor) -> np.ndarray | None:
        y = getattr(self.graph, "y", None)
        return None if y is None else y[nodes].numpy()

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        nodes = self.split_nodes(split)
        if self.full_batch:
            g = self.graph
            for chunk in torch.split(nodes, max(int(batch_size), 1)):
                inputs = {"x": g.x, "edge_index": g.edge_index, "nodes": chunk}
                yield EvalBatch(self._ids(chunk), inputs, self._labels(chunk))
            return
        # mini-batch mode: each chunk with its sampled neighbourhood, with a fixed seed so that
        # evaluate and export see the same subgraphs
        gen = torch.Generator().manual_seed(12345)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(12345)
            for chunk in torch.split(nodes, max(int(batch_size), 1)):
                sub = self.sampler().sample(chunk, generator=gen)
                inputs = {
                    "x": sub.x,
                    "edge_index": sub.edge_index,
                    "nodes": torch.arange(chunk.numel()),
                }
                yield EvalBatch(self._ids(chunk), inputs, self._labels(chunk))

    def has_labels(self) -> bool:
        y = getattr(self.graph, "y", None)
        return y is not None and bool((y >= 0).any())


class HypergraphData(GraphDomainData):
    """A hypergraph (full-graph training) with its given train/test splits."""

    full_batch = True

    def __init__(
        self,
        graph: Data,
        *,
        info: dict[str, Any],
        state: dict[str, Any],
        splits: list[tuple[Tensor, Tensor]] | None = None,
    ):
        self.graph = graph
        self.graph.batch_size = int(graph.num_nodes)
        self.info = info
        self._state = state
        self.splits = splits or []

    def train_dataset(self) -> Any:
        return [self.graph]

    def collate(self, items: list[Any]) -> Any:
        return items[0]

    def split_names(self) -> list[str]:
        return ["train", "test"] if self.splits and self.has_labels() else ["all"]

    def split_nodes(self, split: str, k: int = 0) -> Tensor:
        if split == "all":
            return torch.arange(self.graph.num_nodes)
        if not self.splits or split not in ("train", "test"):
            from sslkit.core.errors import UsageError

            raise UsageError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        return self.splits[k][0 if split == "train" else 1]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        g = self.graph
        y = getattr(g, "y", None)
        for chunk in torch.split(self.split_nodes(split), max(int(batch_size), 1)):
            inputs = {"x": g.x, "hyperedge_index": g.hyperedge_index, "nodes": chunk}
            yield EvalBatch(chunk.numpy(), inputs, None if y is None else y[chunk].numpy())

    def has_labels(self) -> bool:
        return getattr(self.graph, "y", None) is not None


class GraphSetData(GraphDomainData):
    """A set of graphs (graph classification): batches of whole graphs."""

    full_batch = False

    def __init__(self, graphs: list[Data], *, info: dict[str, Any], state: dict[str, Any]):
        self.graphs = graphs
        self.info = info
        self._state = state

    def train_dataset(self) -> Any:
        return self.graphs

    def collate(self, items: list[Any]) -> Any:
        return batch_graphs(items)

    def split_names(self) -> list[str]:
        return ["all"]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        if split != "all":
            from sslkit.core.errors import UsageError

            raise UsageError(f"unknown split {split!r}; graph-level data has one split: all")
        bs = max(int(batch_size), 1)
        for start in range(0, len(self.graphs), bs):
            part = self.graphs[start : start + bs]
            b = batch_graphs(part)
            inputs = {"x": b.x, "edge_index": b.edge_index, "batch": b.batch}
            labels = None
            if self.has_labels():
                labels = np.asarray([int(g.y.view(-1)[0]) for g in part])
            yield EvalBatch(np.arange(start, start + len(part)), inputs, labels)

    def has_labels(self) -> bool:
        return all(getattr(g, "y", None) is not None for g in self.graphs[:1])
