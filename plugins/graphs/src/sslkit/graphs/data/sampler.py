"""Neighbour sampling for mini-batch training on graphs too large for one full-graph step.

``make_sampler`` returns PyG's ``NeighborLoader`` machinery when pyg-lib or torch-sparse is
installed, and :class:`BuiltinNeighborSampler` (pure torch, no compiled extension) otherwise.
Both turn a list of seed node ids into a PyG ``Data`` subgraph whose first ``batch_size`` nodes
are the seeds (``n_id`` holds the original ids), as ``NeighborLoader`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data


def pyg_sampling_available() -> bool:
    """True when PyG's NeighborLoader can run (it needs pyg-lib or torch-sparse)."""
    import torch_geometric.typing as t

    return bool(t.WITH_PYG_LIB or t.WITH_TORCH_SPARSE)


class BuiltinNeighborSampler:
    """Uniform k-hop neighbour sampling in plain torch (vectorised over the frontier).

    For a node with more than ``k`` in-neighbours, ``k`` of them are drawn uniformly with
    replacement and repeated draws are merged (so a hub may get slightly fewer than ``k``);
    nodes with at most ``k`` neighbours keep all of them. ``k = -1`` keeps every neighbour.
    Messages flow from the sampled neighbour to the node that sampled it, as in PyG.
    """

    def __init__(self, graph: Data, num_neighbors: Sequence[int]):
        self.graph = graph
        self.num_nodes = int(graph.num_nodes)
        self.num_neighbors = [int(k) for k in num_neighbors]
        ei = graph.edge_index
        order = torch.argsort(ei[1], stable=True)
        self.col = ei[0][order].contiguous()
        counts = torch.bincount(ei[1], minlength=self.num_nodes)
        self.rowptr = torch.zeros(self.num_nodes + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(counts, 0)
        self._local = torch.full((self.num_nodes,), -1, dtype=torch.long)

    def sample(self, seeds: Tensor, generator: torch.Generator | None = None) -> Data:
        seeds = torch.as_tensor(seeds, dtype=torch.long).reshape(-1)
        local = self._local
        n_id = [seeds]
        count = seeds.numel()
        local[seeds] = torch.arange(count)
        frontier = seeds
        rows, cols = [], []
        try:
            for k in self.num_neighbors:
                if frontier.numel() == 0:
                    break
                start = self.rowptr[frontier]
                deg = self.rowptr[frontier + 1] - start
                take = deg if k < 0 else torch.minimum(deg, torch.full_like(deg, k))
                total = int(take.sum())
                if total == 0:
                    break
                tgt = torch.repeat_interleave(frontier, take)
                begin = torch.repeat_interleave(torch.cumsum(take, 0) - take, take)
                seq = torch.arange(total) - begin
                deg_r = torch.repeat_interleave(deg, take)
                full = torch.repeat_interleave(take == deg, take)
                rnd = (torch.rand(total, generator=generator) * deg_r).long()
                off = torch.where(full, seq, rnd)
                nbr = self.col[torch.repeat_interleave(start, take) + off]
                if k >= 0 and not bool(full.all()):
                    key = torch.unique(tgt * self.num_nodes + nbr)
                    tgt, nbr = key // self.num_nodes, key % self.num_nodes
                new = torch.unique(nbr[local[nbr] < 0])
                local[new] = torch.arange(count, count + new.numel())
                count += new.numel()
                n_id.append(new)
                rows.append(local[nbr])
                cols.append(local[tgt])
                frontier = new
            nodes = torch.cat(n_id)
        finally:
            local[torch.cat(n_id)] = -1
        edge_index = (
            torch.stack([torch.cat(rows), torch.cat(cols)])
            if rows
            else torch.empty(2, 0, dtype=torch.long)
        )
        return subgraph_data(self.graph, nodes, edge_index, seeds.numel())


def subgraph_data(graph: Data, nodes: Tensor, edge_index: Tensor, batch_size: int) -> Data:
    out = Data(x=graph.x[nodes], edge_index=edge_index, n_id=nodes, num_nodes=nodes.numel())
    out.batch_size = int(batch_size)
    if getattr(graph, "y", None) is not None:
        out.y = graph.y[nodes]
    return out


class PyGNeighborSampler:
    """PyG's ``NeighborLoader`` used as a sampler (``collate_fn`` + ``filter_fn``)."""

    def __init__(self, graph: Data, num_neighbors: Sequence[int]):
        from torch_geometric.loader import NeighborLoader

        self.graph = graph
        self.loader = NeighborLoader(graph, num_neighbors=list(num_neighbors), batch_size=1)

    def sample(self, seeds: Tensor, generator: torch.Generator | None = None) -> Data:
        out = self.loader.filter_fn(self.loader.collate_fn(torch.as_tensor(seeds)))
        sub = Data(x=out.x, edge_index=out.edge_index, n_id=out.n_id, num_nodes=out.num_nodes)
        sub.batch_size = int(out.batch_size)
        if getattr(out, "y", None) is not None:
            sub.y = out.y
        return sub


def make_sampler(graph: Data, num_neighbors: Sequence[int], kind: str = "auto"):
    """``kind``: auto (PyG's when pyg-lib or torch-sparse imports), pyg, or builtin."""
    if kind == "pyg" or (kind == "auto" and pyg_sampling_available()):
        if not pyg_sampling_available():
            from sslkit.core.errors import UsageError

            raise UsageError(
                "data.sampler=pyg needs pyg-lib or torch-sparse; install one "
                "(see docs/graphs.md) or use data.sampler=builtin"
            )
        return PyGNeighborSampler(graph, num_neighbors)
    return BuiltinNeighborSampler(graph, num_neighbors)


class NodeIds(torch.utils.data.Dataset):
    """Map-style dataset of seed node ids; the data's ``collate`` samples their subgraph."""

    def __init__(self, num_nodes: int):
        self.n = int(num_nodes)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return int(i)
