"""SCARF: Bahri, Jiang, Tay, Metzler, "SCARF: Self-Supervised Contrastive Learning using Random
Feature Corruption", ICLR 2022.

For each row, exactly ``round(corruption_rate x F)`` features, chosen at random, are replaced by
draws from their empirical marginal distributions (the value of that feature in a random row of
the batch). The encoder ``f`` and a pretraining head ``g`` map the row and its corrupted copy to
``g(f(x))`` and ``g(f(x~))``; InfoNCE (:class:`sslkit.core.objectives.InfoNCE`, temperature 1 as
in the paper) pulls the pair together against the other rows. The embedding is ``f(x)``.

Matryoshka: one head per nested size ``m`` reads ``f(x)[:, :m]``; the losses are averaged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import InfoNCE
from sslkit.tabular.configs import SCARFConfig
from sslkit.tabular.methods.common import (
    RowEncoderMethod,
    batch_size_of,
    device_of,
    exact_mask,
    resample_marginals,
)


def n_corrupted(rate: float, features: int) -> int:
    """How many features SCARF replaces in each row: ``round(rate x F)``, at least one."""
    return max(1, min(features, round(rate * features)))


class SCARF(RowEncoderMethod):
    """SCARF (Bahri et al., ICLR 2022): random feature corruption + InfoNCE."""

    def __init__(self, cfg: SCARFConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.k = n_corrupted(cfg.corruption_rate, self.n)
        self.heads = nn.ModuleList(
            MLPHead(m, cfg.head_dim, cfg.head_dim, num_layers=cfg.head_layers, batchnorm=False)
            for m in self.sizes
        )
        self.loss_fn = InfoNCE(temperature=cfg.temperature)

    def corrupt(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        mask = exact_mask(batch_size_of(batch), self.n, self.k, device_of(batch))
        return resample_marginals(batch, mask, self.n_num), mask

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        corrupted, _ = self.corrupt(batch)
        h = self.encoder(batch)
        h_tilde = self.encoder(corrupted)
        losses = [
            self.loss_fn(torch.stack([head(h[:, :m]), head(h_tilde[:, :m])], dim=1))
            for m, head in zip(self.sizes, self.heads)
        ]
        return {"loss": torch.stack(losses).mean()}


def build(cfg: SCARFConfig, data: Any) -> SCARF:
    return SCARF(cfg, data.info)
