"""GraphCL: You, Chen, Sui, Chen, Wang, Shen, "Graph Contrastive Learning with Augmentations"
(NeurIPS 2020).

Graph level (data of many graphs): two augmentations of each graph (node dropping, edge
perturbation by dropping, attribute masking, subgraph; ratio ``aug_ratio``) go through a GIN
encoder whose per-layer sum-pooled outputs are concatenated into the graph embedding; a
two-layer projection head feeds the paper's NT-Xent, computed from view 1 to view 2 with the
other graphs' second views as negatives and the positive left out of the denominator
(``-log(e^{s_ii/t} / sum_{j != i} e^{s_ij/t})``), which the core InfoNCE does not do, hence
the local loss below.

Node level (one graph, e.g. Cora): the authors' transductive variant: DGI's objective in which
the summaries come from the two augmented graphs and the discriminator scores the original
graph's node embeddings (positives) and those of the feature-shuffled graph (negatives); the
logits of both summaries are added, as in their code.

Matryoshka (``method.matryoshka_dims``): the embedding is the concatenation of the encoder's
layers (``hidden_dim x num_layers`` wide), and a size ``m`` is its first ``m`` coordinates:
the first layers whole, then the first coordinates of the next (``sslkit export --dim m``
keeps exactly those). The loss goes through ``Method.nested``: graph level, a projection head
of its own per size reads the first ``m`` coordinates of both views' graph embeddings (its
other widths those of the full head); node level, a discriminator of its own per size scores
the first ``m`` coordinates against the summaries of the same coordinates. The losses are
averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.graphs.augment import (
    drop_edges,
    drop_nodes,
    mask_nodes_gaussian,
    shuffle_rows,
    subgraph,
)
from sslkit.graphs.configs import GraphCLConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import GraphMethod, graph_inputs, pool, unwrap
from sslkit.graphs.methods.dgi import Discriminator, bce_pos_neg


def graphcl_loss(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    """GraphCL's NT-Xent (its code): anchors of view 1, positives the same graph in view 2,
    negatives the other graphs of view 2; the positive is not in the denominator."""
    z1, z2 = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
    sim = z1 @ z2.t() / tau
    pos = sim.diagonal()
    neg = sim.masked_fill(torch.eye(sim.size(0), dtype=torch.bool, device=sim.device), -torch.inf)
    return (torch.logsumexp(neg, dim=1) - pos).mean()


def augment(kind: str, x: Tensor, ei: Tensor, ratio: float, batch: Tensor | None):
    if kind == "drop_nodes":
        return drop_nodes(x, ei, ratio, batch)
    if kind == "subgraph":
        return subgraph(x, ei, 1 - ratio, batch)
    if kind == "drop_edges":
        return x, drop_edges(ei, ratio), batch
    if kind == "mask_features":
        return mask_nodes_gaussian(x, ratio), ei, batch
    return x, ei, batch


class GraphCL(GraphMethod):
    """The projection head exists only for data of many graphs and the discriminator only for
    one graph: each level trains one of them, and a parameter no step uses stalls DDP."""

    matryoshka = True

    def __init__(self, cfg: GraphCLConfig, in_dim: int, graph_level: bool = False):
        super().__init__(cfg)
        self.pooling = cfg.pooling
        self.encoder = build_encoder(
            cfg, in_dim, act="relu", norm="batch", norm_after_activation=True
        )
        d = cfg.hidden_dim * cfg.num_layers
        self.embed_dim = d
        if graph_level:
            self.projector = self.nested_heads(
                lambda m: nn.Sequential(nn.Linear(m, d), nn.ReLU(inplace=True), nn.Linear(d, d))
            )
        else:
            self.disc = self.nested_heads(Discriminator)

    embed_layers = "concat"  # the embedder reads what node_embeddings does

    def node_embeddings(self, x, edge_index):
        return torch.cat(self.encoder(x, edge_index, return_hidden=True)[1], dim=1)

    def _graph_embed(self, x, ei, batch):
        return pool(self.node_embeddings(x, ei), batch, self.pooling)

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        c = self.cfg
        gb = getattr(batch, "batch", None)
        if gb is not None:  # graph level
            v1 = augment(c.aug_1, x, ei, c.aug_ratio, gb)
            v2 = augment(c.aug_2, x, ei, c.aug_ratio, gb)

            def contrast(gs: tuple[Tensor, Tensor], m: int) -> Tensor:
                projector = self.projector.at(m)
                return graphcl_loss(projector(gs[0]), projector(gs[1]), c.tau)

            views = (self._graph_embed(*v1), self._graph_embed(*v2))
            return {"loss": self.nested(views, contrast)}
        # node level: the authors' transductive (DGI-based) variant
        h0 = self.node_embeddings(x, ei)
        h_neg = self.node_embeddings(shuffle_rows(x), ei)
        augmented = []
        for kind in (c.aug_1, c.aug_2):
            xa, ea, _ = augment(kind, x, ei, c.aug_ratio, None)
            augmented.append(self.node_embeddings(xa, ea))

        def infomax(hs: tuple[Tensor, ...], m: int) -> Tensor:
            disc = self.disc.at(m)
            h0, h_neg = hs[:2]
            logits_pos, logits_neg = 0.0, 0.0
            for h in hs[2:]:
                s = torch.sigmoid(h.mean(0, keepdim=True))
                logits_pos = logits_pos + disc(h0, s)
                logits_neg = logits_neg + disc(h_neg, s)
            return bce_pos_neg(logits_pos, logits_neg)

        return {"loss": self.nested((h0, h_neg, *augmented), infomax)}


def build(cfg: GraphCLConfig, data) -> GraphCL:
    return GraphCL(cfg, int(data.info["num_features"]), "num_graphs" in data.info)
