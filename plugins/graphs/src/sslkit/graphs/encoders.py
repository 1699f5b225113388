"""Encoders: GNNs from PyG (GCN, GAT, GIN, GIN with edge features, GraphSAGE) and hypergraph
encoders (PyG's ``HypergraphConv``, an AllSet/UniGNN-style set layer, UniGCNII as used by
HypeBoy).

Every encoder maps node features to node embeddings; hypergraph encoders can also return
hyperedge embeddings (``return_edges=True``), which TriCL contrasts.

Public API for other plugins (``__all__``; a plugin that imports it declares ``sslkit-graphs``
as a dependency): :class:`GNNEncoder`, :class:`HypergraphEncoder`, the config base
:class:`EncoderOptions` and :func:`build_encoder` (the encoder a config describes), and the
graph-level helpers :func:`batch_graphs` (many graphs as one batch) and :func:`pool_graphs`
(one vector per graph). These names and their keyword arguments are kept stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import (
    GATConv,
    GCNConv,
    GINConv,
    GINEConv,
    HypergraphConv,
    SAGEConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from torch_geometric.utils import scatter, to_torch_csr_tensor

from sslkit.core.nn import csr_fast_path, records_init
from sslkit.graphs.configs import EncoderOptions

__all__ = [
    "HYPERGRAPH_KINDS",
    "EncoderOptions",
    "GNNEncoder",
    "HypergraphEncoder",
    "batch_graphs",
    "build_encoder",
    "pool_graphs",
]

#: ``encoder`` values that build a :class:`HypergraphEncoder` (the others a :class:`GNNEncoder`)
HYPERGRAPH_KINDS = ("hgnn", "set", "unigcnii")


def activation(name: str, dim: int | None = None) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "prelu":
        return nn.PReLU(dim) if dim else nn.PReLU()
    if name == "elu":
        return nn.ELU()
    if name in ("none", "identity"):
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}")


def make_conv(
    kind: str,
    in_dim: int,
    out_dim: int,
    *,
    heads: int = 1,
    attn_drop: float = 0.0,
    edge_dim: int | None = None,
) -> nn.Module:
    """One PyG layer ``in_dim -> out_dim`` (GAT: ``heads`` heads of ``out_dim // heads``,
    concatenated; GINE: GIN whose messages add the edge features, mapped from ``edge_dim``)."""
    if kind == "gcn":
        return GCNConv(in_dim, out_dim)
    if kind == "gat":
        if out_dim % heads:
            raise ValueError(f"GAT width {out_dim} is not divisible by {heads} heads")
        return GATConv(in_dim, out_dim // heads, heads=heads, dropout=attn_drop)
    if kind in ("gin", "gine"):
        mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
        if kind == "gin":
            return GINConv(mlp)
        if not edge_dim:
            raise ValueError("encoder 'gine' needs edge_dim, the width of the edge features")
        return GINEConv(mlp, edge_dim=edge_dim)
    if kind == "sage":
        return SAGEConv(in_dim, out_dim)
    raise ValueError(f"unknown encoder {kind!r}; choose gcn, gat, gin, gine or sage")


def gat_xavier_relu_init(module: nn.Module) -> None:
    """Re-initialise every ``GATConv`` in ``module`` as GraphMAE's GAT does (and DGL's): Xavier
    normal with the ReLU gain (sqrt 2) for the linear map and the attention vectors, zero bias.
    PyG's default (Glorot uniform, gain 1) gives a smaller linear map and larger attention
    vectors; on row-normalised Cora features with GraphMAE's weight decay that start left
    GraphMAE about 9 points lower after 300 epochs (73.9 against 82.7, seed 0)."""
    gain = nn.init.calculate_gain("relu")
    for conv in module.modules():
        if isinstance(conv, GATConv):
            for lin in (getattr(conv, n, None) for n in ("lin", "lin_src", "lin_dst")):
                if lin is not None:
                    nn.init.xavier_normal_(lin.weight, gain=gain)
            nn.init.xavier_normal_(conv.att_src, gain=gain)
            nn.init.xavier_normal_(conv.att_dst, gain=gain)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)


@records_init
class GNNEncoder(nn.Module):
    """A stack of PyG convolutions, each followed by optional norm and an activation.

    ``kind`` is ``gcn``, ``gat``, ``gin``, ``gine`` (GIN with edge features, Hu et al. 2020:
    needs ``edge_dim``, and ``forward`` the ``edge_attr``) or ``sage``. ``dims`` are the output
    widths of the layers (the last is the embedding size); ``act`` is ``relu``, ``prelu``,
    ``elu`` or ``none``. ``heads`` applies to GAT layers (``last_heads`` to the last one).
    ``in_drop`` is dropout on each layer's input (GraphMAE's ``feat_drop``); ``norm`` is
    ``"batch"`` (BGRL), ``"layer"`` or ``"none"`` (applied before the activation, or after it
    with ``norm_after_activation``, as GraphCL's GIN), ``norm_momentum`` the batch norm's
    running-statistics momentum (PyTorch's meaning: the weight of the newest batch);
    ``last_activation=False`` leaves the output linear.

    ``forward(x, edge_index, edge_attr=None, *, return_hidden=False)`` returns the node
    embeddings ``(num_nodes, dims[-1])``, with ``return_hidden`` also every layer's output.
    """

    def __init__(
        self,
        kind: str,
        in_dim: int,
        dims: Sequence[int],
        act: str = "relu",
        *,
        heads: int = 1,
        last_heads: int | None = None,
        attn_drop: float = 0.0,
        in_drop: float = 0.0,
        norm: str = "none",
        norm_momentum: float = 0.1,
        last_activation: bool = True,
        norm_after_activation: bool = False,
        edge_dim: int | None = None,
    ):
        super().__init__()
        self.kind = kind
        self.norm_after_activation = norm_after_activation
        self.in_drop = in_drop
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        d = in_dim
        for i, out in enumerate(dims):
            last = i == len(dims) - 1
            h = (last_heads or heads) if last else heads
            self.convs.append(
                make_conv(kind, d, out, heads=h, attn_drop=attn_drop, edge_dim=edge_dim)
            )
            if norm == "batch":
                self.norms.append(nn.BatchNorm1d(out, momentum=norm_momentum))
            elif norm == "layer":
                self.norms.append(nn.LayerNorm(out))
            else:
                self.norms.append(nn.Identity())
            self.acts.append(activation(act) if (not last or last_activation) else nn.Identity())
            d = out
        self.out_dim = d

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        *,
        return_hidden: bool = False,
    ):
        if self.kind == "gine" and edge_attr is None:
            raise ValueError("encoder 'gine' needs the edge features: pass edge_attr")
        if (
            self.kind == "gcn"
            and csr_fast_path(x)
            and not edge_index.is_sparse
            and edge_index.layout == torch.strided
        ):
            # GCN over a CSR adjacency (sparse matmul) instead of scatter over edges: same
            # result, ~1.7x faster forward + backward on CPU. Not on CUDA, where cuSPARSE
            # refuses an fp32 adjacency times the bf16 features of autocast.
            n = x.size(0)
            edge_index = to_torch_csr_tensor(edge_index.flip(0), size=(n, n))
        hidden = []
        for conv, norm, act in zip(self.convs, self.norms, self.acts):
            if self.in_drop > 0:
                x = F.dropout(x, self.in_drop, self.training)
            x = conv(x, edge_index) if edge_attr is None else conv(x, edge_index, edge_attr)
            x = norm(act(x)) if self.norm_after_activation else act(norm(x))
            hidden.append(x)
        return (x, hidden) if return_hidden else x


def build_encoder(cfg: Any, in_dim: int, **overrides: Any) -> nn.Module:
    """The encoder ``cfg`` describes, on ``in_dim`` input features: a :class:`GNNEncoder`, or a
    :class:`HypergraphEncoder` for the kinds in :data:`HYPERGRAPH_KINDS`.

    ``cfg`` is an :class:`EncoderOptions` (``encoder``, ``hidden_dim``, ``num_layers``; per-layer
    widths ``hidden_dims`` in their place also do). Optional fields are read where the config
    has them: ``activation``, ``num_heads`` (GAT heads; 4 without it), ``in_drop``,
    ``attn_drop``, ``edge_dim`` (GNN); ``activation``, ``dropout`` (hypergraph). ``overrides``
    are keyword arguments of the encoder class, and win over the config: ``dims``, ``act``,
    ``heads``, ``norm``, ``edge_dim``, ``last_activation``, ... (GNN); ``hidden_dim``,
    ``num_layers``, ``act``, ``dropout``, ``node_loops``, ... (hypergraph); ``kind`` replaces
    ``cfg.encoder``.
    """
    kind = overrides.pop("kind", cfg.encoder)
    if kind in HYPERGRAPH_KINDS:
        options = {"hidden_dim": cfg.hidden_dim, "num_layers": cfg.num_layers}
        options |= _present(cfg, activation="act", dropout="dropout")
        return HypergraphEncoder(kind, in_dim, **(options | overrides))
    widths = getattr(cfg, "hidden_dims", None)
    dims = list(widths) if widths is not None else [cfg.hidden_dim] * cfg.num_layers
    options = {"dims": dims, "heads": 4}
    options |= _present(
        cfg,
        activation="act",
        num_heads="heads",
        in_drop="in_drop",
        attn_drop="attn_drop",
        edge_dim="edge_dim",
    )
    return GNNEncoder(kind, in_dim, **(options | overrides))


def _present(cfg: Any, **keywords: str) -> dict[str, Any]:
    """``{keyword: cfg.<field>}`` for the fields (``field=keyword``) that ``cfg`` has."""
    return {kw: getattr(cfg, f) for f, kw in keywords.items() if hasattr(cfg, f)}


# ---------------------------------------------------------------------------------------------
# many graphs: batching and readout


def batch_graphs(graphs: Sequence[Data]) -> Batch:
    """Many graphs as one batch (PyG ``Batch.from_data_list``): one disconnected graph whose
    node features are stacked and edge indices offset, with ``batch`` the graph of each node
    (and ``edge_attr`` stacked when the graphs have it). The graph-level data and methods train
    and embed on these batches; :func:`pool_graphs` reads one vector per graph out of them."""
    return Batch.from_data_list(list(graphs))


def pool_graphs(h: Tensor, batch: Tensor, how: str = "mean") -> Tensor:
    """Node embeddings ``h`` to one row per graph (``batch``: the graph of each node) by
    ``how``: ``mean``, ``sum`` or ``max``."""
    size = int(batch.max()) + 1 if batch.numel() else 0
    if how == "sum":
        return global_add_pool(h, batch, size)
    if how == "max":
        return global_max_pool(h, batch, size)
    return global_mean_pool(h, batch, size)


# ---------------------------------------------------------------------------------------------
# hypergraphs


def with_node_loops(
    hyperedge_index: Tensor, num_nodes: int, num_edges: int, which: str = "all"
) -> tuple[Tensor, int]:
    """Add single-node hyperedges (ids ``num_edges ..``) for every node (``"all"``, TriCL) or
    for the nodes in no hyperedge (``"isolated"``, HypeBoy), so that no node loses its own
    features. Returns the index and the new number of hyperedges."""
    if which == "none":
        return hyperedge_index, num_edges
    nodes = torch.arange(num_nodes, device=hyperedge_index.device)
    if which == "isolated":
        covered = torch.zeros(num_nodes, dtype=torch.bool, device=nodes.device)
        covered[hyperedge_index[0]] = True
        nodes = nodes[~covered]
    loops = torch.stack([nodes, num_edges + torch.arange(nodes.numel(), device=nodes.device)])
    return torch.cat([hyperedge_index, loops], dim=1), num_edges + nodes.numel()


def num_hyperedges(hyperedge_index: Tensor) -> int:
    return int(hyperedge_index[1].max()) + 1 if hyperedge_index.numel() else 0


class SetConv(nn.Module):
    """Two-stage set aggregation (AllSet/UniGNN style, as TriCL's layer):
    ``e = act(mean_{v in e} W1 x_v + b1)``, ``x'_v = mean_{e ∋ v} W2 e + b2``.
    Returns node and hyperedge embeddings."""

    def __init__(self, in_dim: int, edge_dim: int, out_dim: int, act: str = "prelu"):
        super().__init__()
        self.lin_n2e = nn.Linear(in_dim, edge_dim, bias=False)
        self.lin_e2n = nn.Linear(edge_dim, out_dim, bias=False)
        self.bias_n2e = nn.Parameter(torch.zeros(edge_dim))
        self.bias_e2n = nn.Parameter(torch.zeros(out_dim))
        self.act = activation(act)
        nn.init.xavier_uniform_(self.lin_n2e.weight)
        nn.init.xavier_uniform_(self.lin_e2n.weight)

    def forward(self, x: Tensor, hyperedge_index: Tensor, num_edges: int) -> tuple[Tensor, Tensor]:
        v, e = hyperedge_index
        h = self.lin_n2e(x)
        edges = scatter(h[v], e, dim=0, dim_size=num_edges, reduce="mean") + self.bias_n2e
        edges = self.act(edges)
        m = self.lin_e2n(edges)
        nodes = scatter(m[e], v, dim=0, dim_size=x.size(0), reduce="mean") + self.bias_e2n
        return nodes, edges


class UniGCNIIConv(nn.Module):
    """UniGCNII layer (Huang & Yang 2021, "UniGNN"), the backbone of HypeBoy: degree-normalised
    node -> hyperedge mean -> node sum, then a GCNII initial-residual and identity mapping."""

    def __init__(self, dim: int):
        super().__init__()
        self.W = nn.Linear(dim, dim, bias=False)

    def forward(
        self,
        x: Tensor,
        hyperedge_index: Tensor,
        num_edges: int,
        x0: Tensor,
        alpha: float,
        beta: float,
        deg_v: Tensor,
        deg_e: Tensor,
    ) -> tuple[Tensor, Tensor]:
        v, e = hyperedge_index
        xe = scatter(x[v], e, dim=0, dim_size=num_edges, reduce="mean") * deg_e
        xv = scatter(xe[e], v, dim=0, dim_size=x.size(0), reduce="sum") * deg_v
        xi = (1 - alpha) * xv + alpha * x0
        return (1 - beta) * xi + beta * self.W(xi), xe


def unigcnii_degrees(hyperedge_index: Tensor, num_nodes: int, num_edges: int):
    v, e = hyperedge_index
    dv = scatter(torch.ones_like(v, dtype=torch.float), v, dim=0, dim_size=num_nodes, reduce="sum")
    de = scatter(dv[v], e, dim=0, dim_size=num_edges, reduce="mean")
    dv, de = dv.pow(-0.5), de.pow(-0.5)
    dv[torch.isinf(dv)] = 1
    de[torch.isinf(de)] = 1
    return dv.view(-1, 1), de.view(-1, 1)


@records_init
class HypergraphEncoder(nn.Module):
    """Hypergraph encoder: ``"hgnn"`` (PyG ``HypergraphConv``, Feng et al. 2019), ``"set"``
    (:class:`SetConv`) or ``"unigcnii"`` (:class:`UniGCNIIConv` after an input linear layer).

    ``forward(x, hyperedge_index, num_edges=None, return_edges=False)``; single-node hyperedges
    are added first (``node_loops``: all, isolated or none), and their embeddings are dropped
    from the returned hyperedge embeddings.
    """

    def __init__(
        self,
        kind: str,
        in_dim: int,
        hidden_dim: int,
        num_layers: int = 2,
        *,
        act: str = "prelu",
        dropout: float = 0.0,
        node_loops: str = "all",
        last_activation: bool = True,
    ):
        super().__init__()
        self.kind = kind
        self.dropout = dropout
        self.node_loops = node_loops
        self.num_layers = num_layers
        self.last_activation = last_activation
        self.out_dim = hidden_dim
        self.layers = nn.ModuleList()
        if kind == "hgnn":
            d = in_dim
            for _ in range(num_layers):
                self.layers.append(HypergraphConv(d, hidden_dim))
                d = hidden_dim
            self.act = activation(act)
        elif kind == "set":
            d = in_dim
            for _ in range(num_layers):
                self.layers.append(SetConv(d, hidden_dim, hidden_dim, act))
                d = hidden_dim
            self.act = activation(act)
        elif kind == "unigcnii":
            self.inp = nn.Linear(in_dim, hidden_dim)
            for _ in range(num_layers):
                self.layers.append(UniGCNIIConv(hidden_dim))
            self.act = nn.ReLU()
        else:
            raise ValueError(f"unknown hypergraph encoder {kind!r}; choose hgnn, set or unigcnii")

    def forward(
        self,
        x: Tensor,
        hyperedge_index: Tensor,
        num_edges: int | None = None,
        *,
        return_edges: bool = False,
    ):
        n = x.size(0)
        m = num_hyperedges(hyperedge_index) if num_edges is None else int(num_edges)
        hi, total = with_node_loops(hyperedge_index, n, m, self.node_loops)
        edges = None
        if self.kind == "unigcnii":
            deg_v, deg_e = unigcnii_degrees(hi, n, total)
            x = F.dropout(x, self.dropout, self.training)
            x = x0 = torch.relu(self.inp(x))
            lamda, alpha = 0.5, 0.1
            for i, conv in enumerate(self.layers):
                x = F.dropout(x, self.dropout, self.training)
                beta = math.log(lamda / (i + 1) + 1)
                x, edges = conv(x, hi, total, x0, alpha, beta, deg_v, deg_e)
                if i < len(self.layers) - 1:
                    x = torch.relu(x)
        else:
            for i, layer in enumerate(self.layers):
                if self.dropout > 0:
                    x = F.dropout(x, self.dropout, self.training)
                if self.kind == "hgnn":
                    x = layer(x, hi, num_edges=total)
                    if return_edges:
                        edges = scatter(x[hi[0]], hi[1], dim=0, dim_size=total, reduce="mean")
                else:
                    x, edges = layer(x, hi, total)
                if i < len(self.layers) - 1 or self.last_activation:
                    x = self.act(x)
        if return_edges:
            return x, edges[:m]
        return x
