"""SCARF: Bahri, Jiang, Tay, Metzler, "SCARF: Self-Supervised Contrastive Learning using Random
Feature Corruption", ICLR 2022.

For each row, exactly ``round(corruption_rate x F)`` features, chosen at random, are replaced by
draws from their empirical marginal distributions (the value of that feature in a random row of
the batch). The encoder ``f`` and a pretraining head ``g`` map the row and its corrupted copy to
``g(f(x))`` and ``g(f(x~))``; InfoNCE (:class:`sslkit.core.objectives.InfoNCE`, temperature 1 as
in the paper) pulls the pair together against the other rows. The embedding is ``f(x)``.

Matryoshka (``method.matryoshka_dims``, applied by core): the InfoNCE loss goes through
``Method.nested``, so each nested size ``m`` gets its own projection head reading ``f(x)[:, :m]``
and the losses are averaged.
"""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import InfoNCE
from sslkit.tabular.augment import exact_mask, resample_marginals
from sslkit.tabular.configs import SCARFConfig
from sslkit.tabular.methods.base import RowEncoderMethod, batch_size_of, device_of


def n_corrupted(rate: float, features: int) -> int:
    """How many features SCARF replaces in each row: ``round(rate x F)``, at least one."""
    return max(1, min(features, round(rate * features)))


class SCARF(RowEncoderMethod):
    """SCARF (Bahri et al., ICLR 2022): random feature corruption + InfoNCE."""

    def __init__(self, cfg: SCARFConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.k = n_corrupted(cfg.corruption_rate, self.n)
        self.heads = self.nested_heads(
            lambda m: MLPHead(
                m, cfg.head_dim, cfg.head_dim, num_layers=cfg.head_layers, batchnorm=False
            )
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
        return {"loss": self.nested((h, h_tilde), self.contrast)}

    def contrast(self, views: tuple[torch.Tensor, torch.Tensor], m: int) -> torch.Tensor:
        """InfoNCE between the size-``m`` head's projections of a row and its corruption."""
        head = self.heads.at(m)
        return self.loss_fn(torch.stack([head(views[0]), head(views[1])], dim=1))


def build(cfg: SCARFConfig, data: Any) -> SCARF:
    return SCARF(cfg, data.info)
