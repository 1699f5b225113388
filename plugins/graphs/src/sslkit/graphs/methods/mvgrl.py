"""MVGRL: Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning on Graphs"
(ICML 2020), node-level variant.

Two structural views of the graph: the GCN-normalised adjacency ``A`` and its personalized-
PageRank diffusion ``S = alpha (I - (1 - alpha) A)^-1``. Each view has its own one-layer GCN
encoder. Per step, ``subgraphs`` random node sets of ``sample_size`` nodes are taken with their
rows and columns of both views (the paper's subgraph sampling); features shuffled across the
sampled nodes are the negatives. A bilinear discriminator scores node embeddings of one view
against the sigmoid-mean summary of the *other* view (positives) and the shuffled nodes'
embeddings against the same summaries (negatives), with binary cross-entropy. The node
embedding is the sum of both encoders' outputs on the full graph.

The encoders' linear maps are applied once to all nodes per step and sliced per subgraph (the
map is row-wise, so this equals applying it to each subgraph; shuffling rows commutes with it).
Graphs larger than ``dense_limit`` nodes use a top-k sparsified diffusion (GDC-style).

The encoder the method declares (``embedder``) is :class:`MVGRLEncoder`: both linear maps,
biases and activations (shared with the method) and the views built from the inputs' graph;
:func:`mvgrl_encoder` builds it again from the model card of an export alone, and ONNX traces
it as :class:`TracedMVGRL`.

Matryoshka (``method.matryoshka_dims``): the embedding is the sum of the two views' encoder
outputs, so its first ``m`` coordinates are the sum of the first ``m`` coordinates of each
view (``sslkit export --dim m`` keeps them). The loss goes through ``Method.nested`` with
every view's node embeddings (real and shuffled, every subgraph): for each size ``m`` a
discriminator of its own scores the first ``m`` coordinates of one view's embeddings against
the summary of the other view's first ``m`` coordinates; the losses are averaged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sslkit.graphs.augment import ppr_dense, ppr_topk
from sslkit.graphs.configs import MVGRLConfig
from sslkit.graphs.embedders import read_out
from sslkit.graphs.methods.base import GraphMethod, graph_inputs, seed_count, unwrap
from sslkit.graphs.methods.dgi import Discriminator, bce_pos_neg


def _gcn_norm_sparse(edge_index: Tensor, n: int) -> Tensor:
    loops = torch.arange(n, device=edge_index.device)
    ei = torch.cat([edge_index, torch.stack([loops, loops])], 1)
    deg = torch.bincount(ei[0], minlength=n).float()
    w = deg[ei[0]].pow(-0.5) * deg[ei[1]].pow(-0.5)
    return torch.sparse_coo_tensor(ei.flip(0), w, (n, n)).coalesce()


def _induced(p: Tensor, idx: Tensor) -> Tensor:
    """Rows and columns ``idx`` of a dense or sparse square matrix."""
    if not p.is_sparse:
        return p.index_select(0, idx).index_select(1, idx)
    n = p.size(0)
    local = torch.full((n,), -1, dtype=torch.long, device=idx.device)
    local[idx] = torch.arange(idx.numel(), device=idx.device)
    ind, val = p.indices(), p.values()
    keep = (local[ind[0]] >= 0) & (local[ind[1]] >= 0)
    sub = local[ind[:, keep]]
    return torch.sparse_coo_tensor(sub, val[keep], (idx.numel(), idx.numel())).coalesce()


def _mm(p: Tensor, h: Tensor) -> Tensor:
    if not p.is_sparse:
        return p @ h
    # in fp32: CUDA has no bf16 sparse product, which autocast would otherwise ask for
    with torch.autocast(h.device.type, enabled=False):
        return torch.sparse.mm(p, h.to(p.dtype))


def _view_key(edge_index: Tensor, n: int) -> tuple[int, ...]:
    return (n, edge_index.size(1), int(edge_index[:, :64].sum()), int(edge_index.sum()))


def diffusion_views(
    edge_index: Tensor, n: int, alpha: float, dense_limit: int, topk: int
) -> tuple[Tensor, Tensor]:
    """``(A, S)``: the GCN-normalised adjacency and the PPR diffusion (dense up to
    ``dense_limit`` nodes unless ``topk``; else its ``topk`` largest entries per node)."""
    ei = edge_index.cpu()
    adj = _gcn_norm_sparse(ei, n)
    if n <= dense_limit and not topk:
        diff = ppr_dense(ei, n, alpha)
    else:
        pi, pw = ppr_topk(ei, n, alpha, k=topk or 128)
        diff = torch.sparse_coo_tensor(pi, pw, (n, n)).coalesce()
    dev = edge_index.device
    return adj.to(dev), diff.to(dev)


class MVGRLEncoder(nn.Module):
    """MVGRL's embedding as a module: ``act_adj(A x W_adj + b_adj) + act_diff(S x W_diff +
    b_diff)`` on the inputs' graph (views cached per graph), read out at ``inputs["nodes"]`` (or
    pooled per graph). Built around the method's own layers (shared, not copied) by
    ``MVGRL.embedder``, or fresh by :func:`mvgrl_encoder`."""

    def __init__(
        self,
        lin_adj: nn.Linear,
        lin_diff: nn.Linear,
        bias_adj: nn.Parameter,
        bias_diff: nn.Parameter,
        act_adj: nn.Module,
        act_diff: nn.Module,
        *,
        alpha: float,
        dense_limit: int,
        ppr_topk: int,
        pooling: str = "mean",
    ):
        super().__init__()
        self.lin_adj, self.lin_diff = lin_adj, lin_diff
        self.bias_adj, self.bias_diff = bias_adj, bias_diff
        self.act_adj, self.act_diff = act_adj, act_diff
        self.alpha, self.dense_limit, self.ppr_topk = float(alpha), int(dense_limit), int(ppr_topk)
        self.pooling = pooling
        self.training = lin_adj.training
        self._views: tuple[tuple, tuple[Tensor, Tensor]] | None = None

    def views(self, edge_index: Tensor, n: int) -> tuple[Tensor, Tensor]:
        key = _view_key(edge_index, n)
        if self._views is None or self._views[0] != key:
            views = diffusion_views(edge_index, n, self.alpha, self.dense_limit, self.ppr_topk)
            self._views = (key, views)
        return self._views[1]

    def forward(self, inputs) -> Tensor:
        x, ei = graph_inputs(inputs)
        adj, diff = self.views(ei, x.size(0))
        h_adj = self.act_adj(_mm(adj, self.lin_adj(x)) + self.bias_adj)
        h_diff = self.act_diff(_mm(diff, self.lin_diff(x)) + self.bias_diff)
        return read_out(h_adj + h_diff, inputs, self.pooling)


def mvgrl_encoder(
    in_dim: int,
    hidden_dim: int,
    alpha: float,
    dense_limit: int,
    ppr_topk: int,
    pooling: str = "mean",
) -> MVGRLEncoder:
    """A fresh :class:`MVGRLEncoder` from the kwargs of ``MVGRL.encoder_spec()`` (what
    ``sslkit.core.export.load_encoder`` calls)."""
    h = int(hidden_dim)
    return MVGRLEncoder(
        nn.Linear(int(in_dim), h, bias=False),
        nn.Linear(int(in_dim), h, bias=False),
        nn.Parameter(torch.zeros(h)),
        nn.Parameter(torch.zeros(h)),
        nn.PReLU(),
        nn.PReLU(),
        alpha=alpha,
        dense_limit=dense_limit,
        ppr_topk=ppr_topk,
        pooling=pooling,
    )


class MVGRL(GraphMethod):
    matryoshka = True

    def __init__(self, cfg: MVGRLConfig, in_dim: int):
        super().__init__(cfg)
        h = cfg.hidden_dim
        self.lin_adj = nn.Linear(in_dim, h, bias=False)
        self.lin_diff = nn.Linear(in_dim, h, bias=False)
        nn.init.xavier_uniform_(self.lin_adj.weight)
        nn.init.xavier_uniform_(self.lin_diff.weight)
        self.bias_adj = nn.Parameter(torch.zeros(h))
        self.bias_diff = nn.Parameter(torch.zeros(h))
        self.act_adj, self.act_diff = nn.PReLU(), nn.PReLU()
        self.embed_dim = h
        self.disc = self.nested_heads(Discriminator)
        self._views: tuple[tuple, tuple[Tensor, Tensor]] | None = None

    def views(self, edge_index: Tensor, n: int, cache: bool = True) -> tuple[Tensor, Tensor]:
        """``(A, S)``: normalised adjacency and PPR diffusion (cached per graph)."""
        key = _view_key(edge_index, n)
        if cache and self._views is not None and self._views[0] == key:
            return self._views[1]
        c = self.cfg
        out = diffusion_views(edge_index, n, c.alpha, c.dense_limit, c.ppr_topk)
        if cache:
            self._views = (key, out)
        return out

    def _encode(self, adj, diff, xa, xd):
        h_adj = self.act_adj(_mm(adj, xa) + self.bias_adj)
        h_diff = self.act_diff(_mm(diff, xd) + self.bias_diff)
        return h_adj, h_diff

    def node_embeddings(self, x, edge_index):
        adj, diff = self.views(edge_index, x.size(0))
        h_adj, h_diff = self._encode(adj, diff, self.lin_adj(x), self.lin_diff(x))
        return h_adj + h_diff

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        n = x.size(0)
        full = seed_count(batch) == n
        adj, diff = self.views(ei, n, cache=full)
        xa, xd = self.lin_adj(x), self.lin_diff(x)
        size = min(self.cfg.sample_size, n)
        hs: list[Tensor] = []  # per subgraph: both views, real (h1, h2) and shuffled (h3, h4)
        for _ in range(max(1, self.cfg.subgraphs) if full else 1):
            idx = torch.randperm(n, device=x.device)[:size].sort().values if full else None
            a = _induced(adj, idx) if full else adj
            s = _induced(diff, idx) if full else diff
            fa, fd = (xa[idx], xd[idx]) if full else (xa, xd)
            perm = torch.randperm(fa.size(0), device=x.device)
            hs += [*self._encode(a, s, fa, fd), *self._encode(a, s, fa[perm], fd[perm])]

        def infomax(hs: tuple[Tensor, ...], m: int) -> Tensor:
            disc = self.disc.at(m)
            pos, neg = [], []
            for i in range(0, len(hs), 4):
                h1, h2, h3, h4 = hs[i : i + 4]
                c1 = torch.sigmoid(h1.mean(0, keepdim=True))
                c2 = torch.sigmoid(h2.mean(0, keepdim=True))
                pos += [disc(h2, c1), disc(h1, c2)]
                neg += [disc(h4, c1), disc(h3, c2)]
            return bce_pos_neg(torch.cat(pos), torch.cat(neg))

        loss = self.nested(tuple(hs), infomax)
        return {"loss": loss + self.l2_penalty(), "bce": loss.detach()}

    def embedder(self, space: str | None = None) -> MVGRLEncoder:
        c = self.cfg
        return MVGRLEncoder(
            self.lin_adj,
            self.lin_diff,
            self.bias_adj,
            self.bias_diff,
            self.act_adj,
            self.act_diff,
            alpha=c.alpha,
            dense_limit=c.dense_limit,
            ppr_topk=c.ppr_topk,
            pooling=self.pooling,
        )

    def encoder_spec(self, space: str | None = None) -> dict:
        c = self.cfg
        return {
            "build": "sslkit.graphs.methods.mvgrl:mvgrl_encoder",
            "kwargs": {
                "in_dim": self.lin_adj.in_features,
                "hidden_dim": c.hidden_dim,
                "alpha": c.alpha,
                "dense_limit": c.dense_limit,
                "ppr_topk": c.ppr_topk,
                "pooling": self.pooling,
            },
        }

    def export_module(self, space: str | None = None) -> nn.Module:
        if self.cfg.ppr_topk:
            from sslkit.core.errors import UsageError

            raise UsageError(
                "MVGRL with a top-k PPR diffusion (method.ppr_topk) cannot be exported to ONNX: "
                "the sparsified diffusion is computed outside the model; export the embeddings "
                "(--to parquet/npy/faiss) or the weights (--to safetensors)"
            )
        return TracedMVGRL(self.embedder())


class TracedMVGRL(nn.Module):
    """:class:`MVGRLEncoder` as a graph ONNX can hold: the same normalised adjacency built with
    a scatter (not ``bincount`` and sparse tensors), and the PPR diffusion ``alpha (I - (1 -
    alpha) T)^-1`` as its power series, summed until ``(1 - alpha)^k < 1e-7`` (the trained
    model inverts it exactly; the two agree far inside the export's 1e-4)."""

    def __init__(self, encoder: MVGRLEncoder):
        super().__init__()
        self.encoder = encoder
        self.keys: list[str] | None = None
        alpha = encoder.alpha
        self.iters = max(1, math.ceil(math.log(1e-7) / math.log(1 - alpha)))

    def forward(self, *tensors: Tensor) -> Tensor:
        inputs = dict(zip(self.keys or [], tensors))
        x, edge_index = graph_inputs(inputs)
        m, n, alpha = self.encoder, x.size(0), self.encoder.alpha
        loops = torch.arange(n, device=x.device)
        src, dst = torch.cat([edge_index, torch.stack([loops, loops])], 1)
        # scatter_add: ONNX ScatterElements(reduction="add") (index_add lost repeated indices)
        deg = torch.zeros(n, device=x.device).scatter_add(
            0, src, torch.ones_like(src, dtype=x.dtype)
        )
        w = (deg[src].pow(-0.5) * deg[dst].pow(-0.5)).unsqueeze(1)

        def propagate(h: Tensor) -> Tensor:  # T h, T[dst, src] = w
            rows = dst.unsqueeze(1).expand(-1, h.size(1))
            return torch.zeros_like(h).scatter_add(0, rows, w * h[src])

        xa, xd = m.lin_adj(x), m.lin_diff(x)
        term, diffused = xd, alpha * xd
        for _ in range(self.iters):
            term = (1 - alpha) * propagate(term)
            diffused = diffused + alpha * term
        h = m.act_adj(propagate(xa) + m.bias_adj) + m.act_diff(diffused + m.bias_diff)
        return h[inputs["nodes"]]


def build(cfg: MVGRLConfig, data) -> MVGRL:
    return MVGRL(cfg, int(data.info["num_features"]))
