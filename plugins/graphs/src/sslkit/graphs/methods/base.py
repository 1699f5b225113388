"""What the graph methods share: the ``embed`` contract, batch helpers, L2 penalty."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sslkit.core.engine.method import Method
from sslkit.graphs.encoders import pool_graphs as pool


def unwrap(batch: Any) -> Any:
    """The graph of a full-graph step: the engine may hand over ``train_dataset()`` (a list
    holding the one graph) or its element."""
    if isinstance(batch, list | tuple) and len(batch) == 1:
        return batch[0]
    return batch


def seed_count(batch: Any) -> int:
    """Number of seed nodes whose loss counts: the first ``batch_size`` nodes of a sampled
    subgraph (PyG's NeighborLoader convention), every node of a full graph."""
    n = getattr(batch, "batch_size", None)
    return int(n) if n else int(batch.num_nodes)


def clique_expansion(hyperedge_index: Tensor, num_nodes: int) -> Tensor:
    """Graph edges between every two nodes sharing a hyperedge (both directions)."""
    v, e = hyperedge_index
    m = int(e.max()) + 1 if e.numel() else 0
    h = torch.sparse_coo_tensor(
        torch.stack([v, e]), torch.ones_like(v, dtype=torch.float), (num_nodes, max(m, 1))
    ).coalesce()
    a = torch.sparse.mm(h, h.t()).coalesce()
    ei = a.indices()
    return ei[:, ei[0] != ei[1]]


def neighbourhood_hyperedges(edge_index: Tensor, num_nodes: int) -> Tensor:
    """A hypergraph from a graph: one hyperedge per node, its closed neighbourhood (HGNN's
    construction), as ``[node; hyperedge]`` memberships."""
    nodes = torch.arange(num_nodes, device=edge_index.device)
    v = torch.cat([edge_index[0], nodes])
    e = torch.cat([edge_index[1], nodes])
    return torch.stack([v, e])


def graph_inputs(inputs: Any) -> tuple[Tensor, Tensor]:
    """``(x, edge_index)`` from a batch or an inputs dict; hypergraphs are clique-expanded."""
    inputs = unwrap(inputs)
    get = inputs.get if isinstance(inputs, dict) else (lambda k, d=None: getattr(inputs, k, d))
    x = get("x")
    ei = get("edge_index")
    if ei is None:
        hi = get("hyperedge_index")
        if hi is None:
            raise ValueError("a graph batch needs edge_index or hyperedge_index")
        ei = clique_expansion(hi, x.size(0))
    return x, ei


def hypergraph_inputs(inputs: Any) -> tuple[Tensor, Tensor, int]:
    """``(x, hyperedge_index, num_hyperedges)``; a plain graph becomes the hypergraph of its
    nodes' closed neighbourhoods."""
    inputs = unwrap(inputs)
    get = inputs.get if isinstance(inputs, dict) else (lambda k, d=None: getattr(inputs, k, d))
    x = get("x")
    hi = get("hyperedge_index")
    if hi is None:
        hi = neighbourhood_hyperedges(get("edge_index"), x.size(0))
    m = int(hi[1].max()) + 1 if hi.numel() else 0
    return x, hi, m


class GraphMethod(Method):
    """Base of the node-level graph methods: ``node_embeddings(x, edge_index)`` is the frozen
    encoder; ``embed`` returns the rows ``inputs["nodes"]`` or, for graph-level inputs (with
    ``batch``), one pooled vector per graph."""

    l2: float = 0.0
    pooling: str = "mean"

    def node_embeddings(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The frozen encoder's node embeddings (default: ``self.encoder``'s output)."""
        return self.encoder(x, edge_index)

    def embed(self, inputs: Any) -> Tensor:
        x, ei = graph_inputs(inputs)
        return self.readout(self.node_embeddings(x, ei), inputs)

    def readout(self, h: Tensor, inputs: Any) -> Tensor:
        """The rows ``inputs["nodes"]`` of node embeddings ``h``, or for graph-level inputs
        (with ``batch``) one ``pooling``-pooled vector per graph."""
        if "batch" in inputs:
            return pool(h, inputs["batch"], self.pooling)
        return h[inputs["nodes"]]

    embed_layers: str = "last"
    """What ``embedder()`` reads of the encoder: its output (``last``) or every layer's output
    concatenated (``concat``), as ``node_embeddings`` does."""

    def embedder(self, space: str | None = None) -> Any:
        """The encoder ``embed`` reads, with its readout: a
        :class:`~sslkit.graphs.embedders.GraphEmbedder` around ``self.encoder``."""
        from sslkit.graphs.embedders import GraphEmbedder

        return GraphEmbedder(self.encoder, layers=self.embed_layers, pooling=self.pooling)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        from sslkit.graphs.embedders import graph_embedder_spec

        return graph_embedder_spec(self.embedder(space))

    def l2_penalty(self) -> Tensor | float:
        """``l2 / 2 * ||theta||^2``: the gradient is Adam's coupled ``weight_decay`` of the
        papers' code (the engine's AdamW decay is decoupled, a different regulariser)."""
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * sum(p.pow(2).sum() for p in self.parameters() if p.requires_grad)


class HypergraphMethod(GraphMethod):
    """Base of the hypergraph methods (HypeBoy, TriCL): ``self.encoder`` is a
    :class:`~sslkit.graphs.encoders.HypergraphEncoder`, and ``embed`` reads its node embeddings
    of the hypergraph (a plain graph becomes the hypergraph of its closed neighbourhoods)."""

    def embed(self, inputs: Any) -> Tensor:
        x, hi, m = hypergraph_inputs(inputs)
        return self.readout(self.encoder(x, hi, m), inputs)


def pooled_if_graphs(batch: Any, h: Tensor, how: str = "mean") -> Tensor:
    b = getattr(batch, "batch", None)
    return h if b is None else pool(h, b, how)
