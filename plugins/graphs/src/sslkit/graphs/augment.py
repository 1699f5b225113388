"""Graph and hypergraph augmentations (views), plain functions on tensors.

Graphs: edge dropping, feature masking, node dropping, subgraph sampling, personalized-PageRank
diffusion (MVGRL). Hypergraphs: membership (incidence) dropping and hyperedge dropping.
Randomness comes from torch's global generator (seeded by the engine) unless ``generator``
is given.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import dropout_edge, scatter


def drop_edges(edge_index: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Remove each (directed) edge with probability ``p`` (GRACE, BGRL, GraphCL)."""
    if p <= 0:
        return edge_index
    if generator is None:
        return dropout_edge(edge_index, p=p, training=True)[0]
    keep = torch.rand(edge_index.size(1), generator=generator, device=edge_index.device) >= p
    return edge_index[:, keep]


def mask_features(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Zero each feature column with probability ``p``, the same columns for every node
    (GRACE's feature masking, BGRL, GraphCL's attribute masking)."""
    if p <= 0:
        return x
    keep = torch.rand(x.size(1), generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype)


def mask_entries(x: Tensor, p: float) -> Tensor:
    """Zero each entry independently with probability ``p`` (HypeBoy, TriCL feature drop)."""
    if p <= 0:
        return x
    return x * (torch.rand_like(x) >= p).to(x.dtype)


def shuffle_rows(x: Tensor) -> Tensor:
    """Row-permuted features: DGI's and MVGRL's corruption function."""
    return x[torch.randperm(x.size(0), device=x.device)]


def _relabel(edge_index: Tensor, keep: Tensor) -> Tensor:
    new_id = torch.full((keep.numel(),), -1, dtype=torch.long, device=keep.device)
    new_id[keep] = torch.arange(int(keep.sum()), device=keep.device)
    mask = keep[edge_index[0]] & keep[edge_index[1]]
    return new_id[edge_index[:, mask]]


def drop_nodes(
    x: Tensor, edge_index: Tensor, p: float, batch: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Remove each node (and its edges) with probability ``p``, keeping at least one node per
    graph (GraphCL's node dropping). Returns ``(x, edge_index, batch)`` relabelled."""
    n = x.size(0)
    keep = torch.rand(n, device=x.device) >= p
    if batch is None:
        if not keep.any():
            keep[torch.randint(n, (1,))] = True
    else:
        kept = scatter(keep.long(), batch, dim=0, reduce="sum")
        empty = torch.nonzero(kept == 0).view(-1)
        if empty.numel():
            first = torch.full((int(batch.max()) + 1,), n, dtype=torch.long, device=x.device)
            first = first.scatter_reduce(0, batch, torch.arange(n, device=x.device), "amin")
            keep[first[empty]] = True
    return x[keep], _relabel(edge_index, keep), None if batch is None else batch[keep]


def subgraph(
    x: Tensor, edge_index: Tensor, keep_ratio: float, batch: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Grow a connected subgraph from a random start node per graph by adding random
    neighbours of the nodes taken so far, up to ``keep_ratio`` of the graph's nodes (GraphCL's
    subgraph augmentation, a random-walk-style expansion). Returns relabelled tensors."""
    n = x.size(0)
    dev = x.device
    b = batch if batch is not None else torch.zeros(n, dtype=torch.long, device=dev)
    g = int(b.max()) + 1
    sizes = torch.bincount(b, minlength=g)
    target = (sizes.float() * keep_ratio).ceil().clamp(min=1).long()
    # one random start node per graph
    r = torch.rand(n, device=dev)
    best = torch.full((g,), -1.0, device=dev).scatter_reduce(0, b, r, "amax")
    keep = r == best[b]
    src, dst = edge_index
    for _ in range(n):
        have = torch.bincount(b[keep], minlength=g)
        open_ = have < target
        cand = keep[src] & ~keep[dst] & open_[b[dst]]
        if not cand.any():
            # no neighbour left to add (a disconnected part is exhausted): jump to a random
            # node not taken yet, in each graph still below its target
            free = ~keep & open_[b]
            if not free.any():
                break
            r = torch.rand(n, device=dev).masked_fill(~free, -1.0)
            top = torch.full((g,), -1.0, device=dev).scatter_reduce(0, b, r, "amax")
            keep |= free & (r == top[b])
            continue
        nodes = dst[cand]
        nodes = nodes[torch.randperm(nodes.numel(), device=dev)]
        nodes = torch.unique(nodes)  # sorted; shuffle again for a random pick per graph
        nodes = nodes[torch.randperm(nodes.numel(), device=dev)]
        # take at most (target - have) new nodes per graph this round
        gb = b[nodes]
        order = torch.argsort(gb, stable=True)
        nodes, gb = nodes[order], gb[order]
        start = torch.searchsorted(gb, torch.arange(g, device=dev))
        rank = torch.arange(nodes.numel(), device=dev) - start[gb]
        room = (target - have)[gb]
        keep[nodes[rank < room]] = True
    return x[keep], _relabel(edge_index, keep), None if batch is None else b[keep]


# ---------------------------------------------------------------------------------------------
# diffusion (MVGRL)


def gcn_normalized_dense(edge_index: Tensor, n: int) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` as a dense matrix."""
    a = torch.zeros(n, n)
    a[edge_index[0], edge_index[1]] = 1.0
    a.fill_diagonal_(1.0)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def ppr_dense(edge_index: Tensor, n: int, alpha: float = 0.2) -> Tensor:
    """Exact personalized-PageRank diffusion ``alpha (I - (1 - alpha) T)^-1`` with
    ``T = D^-1/2 (A + I) D^-1/2`` (MVGRL's ``compute_ppr``), dense ``(n, n)``."""
    t = gcn_normalized_dense(edge_index, n).double()
    eye = torch.eye(n, dtype=torch.float64)
    return (alpha * torch.linalg.inv(eye - (1 - alpha) * t)).float()


def ppr_topk(
    edge_index: Tensor,
    n: int,
    alpha: float = 0.2,
    k: int = 128,
    iters: int = 30,
    chunk: int = 4096,
) -> tuple[Tensor, Tensor]:
    """Sparse PPR for large graphs: power iteration ``S <- alpha I + (1 - alpha) T S`` on
    chunks of source nodes, keeping the ``k`` largest entries per node (GDC-style top-k
    sparsification). Returns ``(edge_index, weight)`` with ``edge_index[0]`` the source."""
    loops = torch.arange(n)
    ei = torch.cat([edge_index, torch.stack([loops, loops])], 1)
    deg = torch.bincount(ei[0], minlength=n).float()
    w = deg[ei[0]].pow(-0.5) * deg[ei[1]].pow(-0.5)
    t = torch.sparse_coo_tensor(ei.flip(0), w, (n, n)).coalesce().to_sparse_csr()
    rows, cols, vals = [], [], []
    for s in range(0, n, chunk):
        idx = torch.arange(s, min(n, s + chunk))
        e = torch.zeros(n, idx.numel())
        e[idx, torch.arange(idx.numel())] = 1.0
        z = alpha * e
        for _ in range(iters):
            z = alpha * e + (1 - alpha) * (t @ z)
        kk = min(k, n)
        v, i = torch.topk(z.t(), kk, dim=1)
        rows.append(idx.repeat_interleave(kk))
        cols.append(i.reshape(-1))
        vals.append(v.reshape(-1))
    return torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals)


# ---------------------------------------------------------------------------------------------
# hypergraphs


def drop_membership(hyperedge_index: Tensor, p: float) -> Tensor:
    """Remove each (node, hyperedge) membership with probability ``p`` (TriCL)."""
    if p <= 0:
        return hyperedge_index
    keep = torch.rand(hyperedge_index.size(1), device=hyperedge_index.device) >= p
    return hyperedge_index[:, keep]


def drop_hyperedges(hyperedge_index: Tensor, p: float, num_edges: int | None = None) -> Tensor:
    """Remove each whole hyperedge with probability ``p`` (HypeBoy); ids are kept."""
    if p <= 0:
        return hyperedge_index
    m = int(hyperedge_index[1].max()) + 1 if num_edges is None else num_edges
    keep = torch.rand(m, device=hyperedge_index.device) >= p
    return hyperedge_index[:, keep[hyperedge_index[1]]]


def mask_nodes_gaussian(x: Tensor, p: float) -> Tensor:
    """Replace the features of a random ``p`` share of the nodes by Gaussian noise with mean
    0.5 and standard deviation 0.5 (GraphCL's attribute masking)."""
    if p <= 0:
        return x
    rows = torch.rand(x.size(0), device=x.device) < p
    noise = torch.randn_like(x) * 0.5 + 0.5
    return torch.where(rows[:, None], noise, x)
