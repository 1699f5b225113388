"""XSimGCL (Yu et al., "XSimGCL: Towards Extremely Simple Graph Contrastive Learning for
Recommendation", TKDE 2023): one propagation with SimGCL's noise on every layer serves both
tasks: BPR on its final embedding (mean of layers 1..L) and ``cl_weight`` times InfoNCE
(temperature 0.15) between that final embedding and the noisy output of layer ``cl_layer``
(l* = 1), over the batch's unique users and items (Coder-Yu/SELFRec ``XSimGCL.py``,
``conf/XSimGCL.yaml``: lambda 0.2, eps 0.2, tau 0.15). Evaluation and export use the clean propagation.
"""

from __future__ import annotations

from typing import Any

from sslkit.recsys.methods.base import GraphRecommender


class XSimGCL(GraphRecommender):
    first_layer = 1

    def __init__(self, cfg: Any, data: Any):
        super().__init__(cfg, data)
        if not 1 <= cfg.cl_layer <= cfg.num_layers:
            from sslkit.core.errors import ConfigError

            raise ConfigError(
                f"method.cl_layer = {cfg.cl_layer} must be a layer 1..{cfg.num_layers}"
            )

    def training_step(self, batch, step: int):
        enc = self.encoder
        layers = enc.layer_outputs(eps=self.cfg.eps)
        users, items = self.final(layers)
        cl_users, cl_items = enc.split(layers[self.cfg.cl_layer])
        triple, reg = self.rec_terms(batch, users, items)
        views = self.batch_views(batch, (users, items), (cl_users, cl_items))
        return self.contrastive_step(triple, views, reg)


def build(cfg: Any, data: Any) -> XSimGCL:
    return XSimGCL(cfg, data)
