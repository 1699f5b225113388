"""Reading a graph batch: the graph of a full-graph step, ``(x, edge_index)`` or the
hypergraph view of it. Below the methods and the embedders, which both read inputs."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


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
