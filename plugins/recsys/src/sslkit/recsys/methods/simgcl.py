"""SimGCL (Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for
Recommendation", SIGIR 2022): LightGCN's BPR on the clean propagation, plus ``cl_weight`` times
InfoNCE (temperature 0.2) between two propagations in which every layer's output gets uniform
noise ``sign(E) * eps * normalize(U(0, 1))``, over the batch's unique users and unique items
(Coder-Yu/SELFRec ``SimGCL.py``). As SELFRec, the final embedding is the mean of layers 1..L
(the ego embeddings are left out of the mean); the L2 term is LightGCN's on the ego
embeddings (SELFRec puts an unsquared norm on the final ones).
"""

from __future__ import annotations

from typing import Any

import torch

from sslkit.recsys.methods.base import GraphRecommender, bpr_loss, cross_view_infonce


class SimGCL(GraphRecommender):
    first_layer = 1

    def contrast(self, batch, a: tuple, b: tuple) -> list[torch.Tensor]:
        """The batch's unique users and items in views ``a`` and ``b`` (user, item tables)."""
        u = torch.unique(batch["user"])
        i = torch.unique(batch["item"])
        return [a[0][u], b[0][u], a[1][i], b[1][i]]

    def training_step(self, batch, step: int):
        enc = self.encoder
        users, items = self.final(enc.layer_outputs())
        triple, reg = self.rec_terms(batch, users, items)
        v1 = self.final(enc.layer_outputs(eps=self.cfg.eps))
        v2 = self.final(enc.layer_outputs(eps=self.cfg.eps))
        views = self.contrast(batch, v1, v2)
        t = self.cfg.temperature

        def loss_of(z, m):
            bpr = bpr_loss(*z[:3])
            cl = cross_view_infonce(z[3], z[4], t) + cross_view_infonce(z[5], z[6], t)
            return {"loss": bpr + self.cfg.cl_weight * cl, "bpr": bpr, "cl": cl}

        out = self.nested((*triple, *views), loss_of)
        return {"loss": out["loss"] + reg, **self.logs(bpr=out["bpr"], cl=out["cl"], reg=reg)}


def build(cfg: Any, data: Any) -> SimGCL:
    return SimGCL(cfg, data)
