"""BGRL: Thakoor, Tallec, Azar, Azabou, Dyer, Munos, Veličković, Valko, "Large-Scale
Representation Learning on Graphs via Bootstrapping" (ICLR 2022).

Two views (edge dropping and feature masking, each with its own rates) go through an online
GCN encoder (GCN -> BatchNorm -> PReLU per layer) followed by a predictor MLP, and through a
target encoder that is an exponential moving average of the online one (momentum raised from
``base_momentum`` to 1 on a cosine schedule). The online prediction of each view regresses the
target embedding of the other view: ``2 - cos(q1, sg(y2)) - cos(q2, sg(y1))``. No negatives.
The embedding is the online encoder's output (eval mode), as in the paper's evaluation.

Matryoshka (``method.matryoshka_dims``): the loss goes through ``Method.nested``: for each size
``m`` a predictor of its own maps the first ``m`` online coordinates to the first ``m`` target
coordinates; the losses are averaged.
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit.core.nn import EMATeacher, MLPHead
from sslkit.core.objectives import NegativeCosine
from sslkit.graphs.augment import drop_edges, mask_features
from sslkit.graphs.configs import BGRLConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import GraphMethod, graph_inputs, seed_count, unwrap


class BGRL(GraphMethod):
    matryoshka = True

    def __init__(self, cfg: BGRLConfig, in_dim: int):
        super().__init__(cfg)
        self.encoder = build_encoder(
            cfg, in_dim, act="prelu", norm="batch", norm_momentum=cfg.batchnorm_momentum
        )
        out = cfg.hidden_dims[-1]
        self.embed_dim = out
        self.predictor = self.nested_heads(
            lambda m: MLPHead(
                m, cfg.predictor_dim, m, num_layers=2, batchnorm=False, activation=nn.PReLU
            )
        )
        self.target = EMATeacher(self.encoder, cfg.base_momentum, 1.0)
        self.loss = NegativeCosine(byol=True)

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        c = self.cfg
        x1, e1 = mask_features(x, c.drop_feature_1), drop_edges(ei, c.drop_edge_1)
        x2, e2 = mask_features(x, c.drop_feature_2), drop_edges(ei, c.drop_edge_2)
        b = seed_count(batch)
        h1 = self.encoder(x1, e1)[:b]
        h2 = self.encoder(x2, e2)[:b]
        self.target.module.train(self.training)
        with torch.no_grad():
            y1 = self.target(x1, e1)[:b]
            y2 = self.target(x2, e2)[:b]

        def bootstrap(t: tuple, m: int) -> torch.Tensor:
            predictor = self.predictor.at(m)
            q1, q2 = predictor(t[0]), predictor(t[1])
            # (batch, views, dim): the prediction of each view against the other view's target
            return self.loss(torch.stack([q1, q2], 1), torch.stack([t[2], t[3]], 1))

        loss = self.nested((h1, h2, y1, y2), bootstrap)
        return {
            "loss": loss + self.l2_penalty(),
            "byol": loss.detach(),
            "momentum": self.target.momentum,
        }

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        self.target.update(step + 1, total_steps)


def build(cfg: BGRLConfig, data) -> BGRL:
    return BGRL(cfg, int(data.info["num_features"]))
