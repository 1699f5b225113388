"""SGL-ED (Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021):
LightGCN's BPR on the full graph plus ``cl_weight`` times InfoNCE (temperature 0.2) between two
views of the graph, each keeping every training interaction with probability ``1 - drop_rate``
(renormalised), over the batch's unique users and items (Coder-Yu/SELFRec ``SGL.py``: drop 0.1,
lambda 0.1, tau 0.2). SGL draws new views every epoch; here every ``view_every`` steps (0: one
pass over the training pairs at batch 2048), from a generator seeded by the block of steps, so
views are the same on every rank and after a resume.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from sslkit.recsys.augment import edge_dropout_graph
from sslkit.recsys.methods.base import GraphRecommender

VIEW_SEED = 1_000_003


class SGL(GraphRecommender):
    first_layer = 0

    def __init__(self, cfg: Any, data: Any):
        super().__init__(cfg, data)
        key = np.unique(self._fit[0] * self.n_items + self._fit[1])
        self._pairs = (torch.from_numpy(key // self.n_items), torch.from_numpy(key % self.n_items))
        self.view_every = int(cfg.view_every) or max(1, math.ceil(len(key) / 2048))
        self._views: tuple[int, list] | None = None

    def views(self, step: int, device: torch.device) -> list:
        block = step // self.view_every
        if self._views is None or self._views[0] != block:
            g = torch.Generator().manual_seed(VIEW_SEED + block)
            graphs = [
                tuple(t.to(device) for t in edge_dropout_graph(
                    *self._pairs, self.n_users, self.n_items, self.cfg.drop_rate, g))
                for _ in range(2)
            ]  # fmt: skip
            self._views = (block, graphs)
        return self._views[1]

    def training_step(self, batch, step: int):
        enc = self.encoder
        users, items = self.final(enc.layer_outputs())
        triple, reg = self.rec_terms(batch, users, items)
        g1, g2 = self.views(step, users.device)
        v1 = self.final(enc.layer_outputs(0.0, *g1))
        v2 = self.final(enc.layer_outputs(0.0, *g2))
        views = self.batch_views(batch, v1, v2)
        return self.contrastive_step(triple, views, reg)


def build(cfg: Any, data: Any) -> SGL:
    return SGL(cfg, data)
