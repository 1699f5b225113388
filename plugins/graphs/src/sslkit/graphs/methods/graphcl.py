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

    def __init__(self, cfg: GraphCLConfig, in_dim: int, graph_level: bool = False):
        super().__init__()
        self.cfg = cfg
        self.pooling = cfg.pooling
        self.encoder = build_encoder(
            cfg, in_dim, act="relu", norm="batch", norm_after_activation=True
        )
        d = cfg.hidden_dim * cfg.num_layers
        if graph_level:
            self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, d))
        else:
            self.disc = Discriminator(d)
        self.embed_dim = d

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
            z1 = self.projector(self._graph_embed(*v1))
            z2 = self.projector(self._graph_embed(*v2))
            loss = graphcl_loss(z1, z2, c.tau)
            return {"loss": loss}
        # node level: the authors' transductive (DGI-based) variant
        h0 = self.node_embeddings(x, ei)
        h_neg = self.node_embeddings(shuffle_rows(x), ei)
        logits_pos, logits_neg = 0.0, 0.0
        for kind in (c.aug_1, c.aug_2):
            xa, ea, _ = augment(kind, x, ei, c.aug_ratio, None)
            s = torch.sigmoid(self.node_embeddings(xa, ea).mean(0, keepdim=True))
            logits_pos = logits_pos + self.disc(h0, s)
            logits_neg = logits_neg + self.disc(h_neg, s)
        loss = bce_pos_neg(logits_pos, logits_neg)
        return {"loss": loss}


def build(cfg: GraphCLConfig, data) -> GraphCL:
    return GraphCL(cfg, int(data.info["num_features"]), "num_graphs" in data.info)
