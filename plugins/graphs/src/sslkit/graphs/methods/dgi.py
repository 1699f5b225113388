"""DGI: Veličković, Fedus, Hamilton, Liò, Bengio, Hjelm, "Deep Graph Infomax" (ICLR 2019).

A GNN encodes the graph and a corrupted copy (node features shuffled across nodes, same
edges). The summary ``s = sigmoid(mean_i h_i)`` of the real graph is scored against every
real node embedding (positives) and every corrupted one (negatives) by a bilinear
discriminator ``D(h, s) = h^T W s``, trained with binary cross-entropy: a Jensen-Shannon
estimate of the mutual information between local and global representations. In mini-batch
mode the summary is taken over the seed nodes of the sampled subgraph.

Matryoshka (``method.matryoshka_dims``): the objective goes through ``Method.nested``: each
size ``m`` has its own discriminator scoring the first ``m`` coordinates of the node
embeddings against the summary of those coordinates; the losses are averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.graphs.augment import shuffle_rows
from sslkit.graphs.configs import DGIConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import (
    GraphMethod,
    graph_inputs,
    pooled_if_graphs,
    seed_count,
    unwrap,
)


class Discriminator(nn.Module):
    """DGI's bilinear critic ``h^T W s + b`` (Xavier-initialised weight, zero bias)."""

    def __init__(self, dim: int):
        super().__init__()
        self.bilinear = nn.Bilinear(dim, dim, 1)
        nn.init.xavier_uniform_(self.bilinear.weight)
        nn.init.zeros_(self.bilinear.bias)

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``h_i^T W s_i + b`` for every row (``s`` broadcast). Written as ``((h W) * s).sum``:
        ``nn.Bilinear``'s own kernel (``_trilinear``) is an order of magnitude slower on CPU."""
        return bilinear(self.bilinear, h, s)


def bilinear(layer: nn.Bilinear, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``nn.Bilinear`` with one output, computed as ``((a W) * b).sum(-1) + bias``."""
    return ((a @ layer.weight[0]) * b).sum(-1) + layer.bias[0]


def bce_pos_neg(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    logits = torch.cat([pos, neg])
    target = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
    return F.binary_cross_entropy_with_logits(logits, target)


class DGI(GraphMethod):
    matryoshka = True

    def __init__(self, cfg: DGIConfig, in_dim: int):
        super().__init__(cfg)
        self.encoder = build_encoder(cfg, in_dim)
        self.embed_dim = cfg.hidden_dim
        self.disc = self.nested_heads(Discriminator)

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        b = seed_count(batch)
        h = self.encoder(x, ei)
        h_neg = self.encoder(shuffle_rows(x), ei)
        graph_batch = getattr(batch, "batch", None)

        def infomax(hs: tuple[torch.Tensor, torch.Tensor], m: int) -> torch.Tensor:
            h, h_neg = hs
            disc = self.disc.at(m)
            if graph_batch is None:
                s = torch.sigmoid(h[:b].mean(0, keepdim=True))
                pos, neg = disc(h[:b], s), disc(h_neg[:b], s)
            else:  # graph-level data: each node against its own graph's summary
                s = torch.sigmoid(pooled_if_graphs(batch, h))[graph_batch]
                pos, neg = disc(h, s), disc(h_neg, s)
            return bce_pos_neg(pos, neg)

        loss = self.nested((h, h_neg), infomax)
        return {"loss": loss + self.l2_penalty(), "bce": loss.detach()}


def build(cfg: DGIConfig, data) -> DGI:
    return DGI(cfg, int(data.info["num_features"]))
