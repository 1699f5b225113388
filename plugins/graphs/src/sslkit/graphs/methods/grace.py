"""GRACE: Zhu, Xu, Yu, Liu, Wu, Wang, "Deep Graph Contrastive Representation Learning"
(ICML GRL+ workshop 2020, arXiv:2006.04131).

Two views of the graph, each with edges dropped (``p_e``) and feature columns masked (``p_f``),
go through one shared GNN; a two-layer ELU projection head maps node embeddings to the space
of the loss. Node ``i`` of view 1 and node ``i`` of view 2 are positives; every other node of
both views is a negative (intra- and inter-view), with cosine similarity over temperature
``tau``. That per-anchor loss, averaged over both views, is exactly NT-Xent with two views,
so the core ``InfoNCE`` computes it. The encoder's hidden layers are twice the output width.

Matryoshka (``method.matryoshka_dims``): the loss goes through ``Method.nested``, one
projection head per size ``m`` reading the first ``m`` coordinates; the losses are averaged.
"""

from __future__ import annotations

from torch import nn

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import InfoNCE
from sslkit.graphs.augment import drop_edges, mask_features
from sslkit.graphs.configs import GRACEConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import GraphMethod, graph_inputs, seed_count, unwrap


class GRACE(GraphMethod):
    matryoshka = True

    def __init__(self, cfg: GRACEConfig, in_dim: int):
        super().__init__(cfg)
        dims = [2 * cfg.hidden_dim] * (cfg.num_layers - 1) + [cfg.hidden_dim]
        self.encoder = build_encoder(cfg, in_dim, dims=dims)
        self.embed_dim = cfg.hidden_dim
        self.projector = self.nested_heads(
            lambda m: MLPHead(
                m, cfg.proj_dim, cfg.hidden_dim, num_layers=2, batchnorm=False, activation=nn.ELU
            )
        )
        self.loss = InfoNCE(temperature=cfg.tau)

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        c = self.cfg
        z1 = self.encoder(mask_features(x, c.drop_feature_1), drop_edges(ei, c.drop_edge_1))
        z2 = self.encoder(mask_features(x, c.drop_feature_2), drop_edges(ei, c.drop_edge_2))
        b = seed_count(batch)

        def contrast(zs: tuple, m: int):
            head = self.projector.at(m)
            return self.loss(head(zs[0]), head(zs[1]))

        loss = self.nested((z1[:b], z2[:b]), contrast)
        return {"loss": loss + self.l2_penalty(), "contrastive": loss.detach()}


def build(cfg: GRACEConfig, data) -> GRACE:
    return GRACE(cfg, int(data.info["num_features"]))
