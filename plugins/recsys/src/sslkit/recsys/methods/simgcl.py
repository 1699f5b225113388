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

from sslkit.recsys.methods.base import GraphRecommender


class SimGCL(GraphRecommender):
    first_layer = 1

    def training_step(self, batch, step: int):
        enc = self.encoder
        users, items = self.final(enc.layer_outputs())
        triple, reg = self.rec_terms(batch, users, items)
        v1 = self.final(enc.layer_outputs(eps=self.cfg.eps))
        v2 = self.final(enc.layer_outputs(eps=self.cfg.eps))
        views = self.batch_views(batch, v1, v2)
        return self.contrastive_step(triple, views, reg)


def build(cfg: Any, data: Any) -> SimGCL:
    return SimGCL(cfg, data)
