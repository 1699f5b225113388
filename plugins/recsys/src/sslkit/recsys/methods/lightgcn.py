"""LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation", SIGIR 2020): id embeddings propagated over the symmetrically normalised
user-item graph without weights or non-linearities, the final embedding the mean of layers
0..L; trained with BPR (one negative per pair, sampled among the user's non-interacted items)
plus ``reg`` times the L2 norm of the batch's ego embeddings (kuandeng/LightGCN,
gusye1234/LightGCN-PyTorch: emb 64, 3 layers, lr 1e-3, batch 2048, decay 1e-4).

The supervised baseline of the plugin: no self-supervised term.
"""

from __future__ import annotations

from typing import Any

from sslkit.recsys.methods.base import GraphRecommender, bpr_loss


class LightGCN(GraphRecommender):
    first_layer = 0

    def training_step(self, batch, step: int):
        users, items = self.final(self.encoder.layer_outputs())
        triple, reg = self.rec_terms(batch, users, items)
        bpr = self.nested(triple, lambda z, m: bpr_loss(*z))
        return {"loss": bpr + reg, **self.logs(bpr=bpr, reg=reg)}


def build(cfg: Any, data: Any) -> LightGCN:
    return LightGCN(cfg, data)
