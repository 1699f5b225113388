"""VIME self-supervised: Yoon, Zhang, Jordon, van der Schaar, "VIME: Extending the Success of
Self- and Semi-supervised Learning to Tabular Domain", NeurIPS 2020.

A mask ``m ~ Bernoulli(mask_prob)`` per feature picks the features replaced by draws from their
empirical marginals (the value of that feature in a random row of the batch). From the
encoding of the corrupted row, a mask estimator predicts ``m`` (binary cross-entropy) and a
feature estimator reconstructs the original row (squared error for numeric features, cross-
entropy for categorical ones): ``loss = l_mask + alpha * l_reconstruction``. The embedding is the
encoder's output on the clean row.

Matryoshka (``method.matryoshka_dims``, applied by core): the loss goes through
``Method.nested``, so the two estimators are repeated for each nested size ``m`` and read
``encoder(x)[:, :m]``; the losses (and the logged ``mask`` and ``recon`` terms) are averaged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.engine.method import Method
from sslkit.tabular.augment import resample_marginals
from sslkit.tabular.configs import VIMEConfig
from sslkit.tabular.methods.base import RowEncoderMethod, batch_size_of, device_of


class Estimators(nn.Module):
    """VIME's mask estimator and feature estimator on a ``d``-sized encoding."""

    def __init__(self, d: int, n_num: int, cardinalities: list[int]):
        super().__init__()
        self.mask = nn.Linear(d, n_num + len(cardinalities))
        self.num = nn.Linear(d, n_num) if n_num else None
        self.cats = nn.ModuleList(nn.Linear(d, c) for c in cardinalities)

    def forward(
        self, h: torch.Tensor, batch: dict[str, torch.Tensor], mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mask_loss = F.binary_cross_entropy_with_logits(self.mask(h), mask.to(h.dtype))
        recon = []
        if self.num is not None:
            recon.append(F.mse_loss(self.num(h), batch["num"], reduction="none").mean(0))
        for j, head in enumerate(self.cats):
            recon.append(F.cross_entropy(head(h), batch["cat"][:, j]).reshape(1))
        return mask_loss, torch.cat(recon).mean()


class VIME(RowEncoderMethod):
    """VIME self-supervised learning (Yoon et al., NeurIPS 2020)."""

    def __init__(self, cfg: VIMEConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        cards = list(info["cardinalities"])
        self.estimators = self.nested_heads(lambda m: Estimators(m, self.n_num, cards))

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        b, dev = batch_size_of(batch), device_of(batch)
        mask = torch.rand(b, self.n, device=dev) < self.cfg.mask_prob
        corrupted = resample_marginals(batch, mask, self.n_num)
        # a resampled value equal to the original is not a corruption (VIME's m~ = 1[x~ != x])
        changed = []
        if "num" in batch:
            changed.append(corrupted["num"] != batch["num"])
        if "cat" in batch:
            changed.append(corrupted["cat"] != batch["cat"])
        target_mask = torch.cat(changed, dim=1)
        h = self.encoder(corrupted)

        def estimate(h_m: torch.Tensor, m: int) -> dict[str, torch.Tensor]:
            l_mask, l_recon = self.estimators.at(m)(h_m, batch, target_mask)
            return {"loss": l_mask + self.cfg.alpha * l_recon, "mask": l_mask, "recon": l_recon}

        return self.nested(h, estimate)


def build(cfg: VIMEConfig, data: Any) -> Method:
    return VIME(cfg, data.info)
