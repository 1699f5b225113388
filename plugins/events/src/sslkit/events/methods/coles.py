"""CoLES: Contrastive Learning for Event Sequences with Self-Supervision."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners
from pytorch_metric_learning.miners import BaseMiner
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

from sslkit.core.objectives import InfoNCE, MetricLoss
from sslkit.events.augment import sample_slices
from sslkit.events.configs import CoLESConfig
from sslkit.events.encoders import build_encoder
from sslkit.events.methods.base import EventsMethod, check_lengths


class HardNegativePairMiner(BaseMiner):
    """Every positive pair and, for each embedding, its ``neg_count`` closest negatives: the
    pair selection of the CoLES paper (pytorch-lifestream's ``HardNegativePairSelector``),
    as a pytorch-metric-learning miner."""

    def __init__(self, neg_count: int = 5, **kwargs: Any):
        super().__init__(**kwargs)
        self.neg_count = neg_count

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        a1, p, _, _ = lmu.get_all_pairs_indices(labels, ref_labels)
        dist = self.distance(embeddings, ref_emb).detach()
        negative = labels.unsqueeze(1) != ref_labels.unsqueeze(0)
        far = float("-inf") if self.distance.is_inverted else float("inf")
        dist = dist.masked_fill(~negative, far)
        k = min(self.neg_count, dist.shape[1])
        _, idx = dist.topk(k, dim=1, largest=self.distance.is_inverted)
        a2 = torch.arange(len(embeddings), device=idx.device).repeat_interleave(k)
        n = idx.reshape(-1)
        keep = negative[a2, n]
        return a1, p, a2[keep], n[keep]


class CoLES(EventsMethod):
    """CoLES (Babaev, Ovsov, Kireev, Ivanova, Gusev, Nazarov, Tuzhilin, "CoLES: Contrastive
    Learning for Event Sequences with Self-Supervision", SIGMOD 2022).

    Each step samples ``split_count`` random contiguous slices of every entity's history;
    slices of one entity are positives, slices of the other entities negatives. The slices
    are encoded, L2-normalised and trained with a contrastive loss with a margin on hard
    negatives (pytorch-metric-learning's ``ContrastiveLoss`` with the paper's miner) or with
    InfoNCE. The embedding is the encoder output for the whole history.
    """

    matryoshka = True  # the contrastive loss goes through Method.nested (per-prefix norm)

    def __init__(self, config: CoLESConfig, info: dict[str, Any]):
        super().__init__(build_encoder(config, info))
        self.config = config
        if config.loss == "margin":
            loss = losses.ContrastiveLoss(pos_margin=0.0, neg_margin=config.margin)
            if config.miner == "hard":
                miner = HardNegativePairMiner(config.neg_count)
            elif config.miner == "pair_margin":
                miner = miners.PairMarginMiner(pos_margin=0.0, neg_margin=config.margin)
            else:
                miner = miners.BatchHardMiner()
            self.loss = MetricLoss(loss, miner)
        else:
            self.loss = InfoNCE(config.temperature)

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        slices, _ = sample_slices(batch, c.split_count, c.slice_min, c.slice_max)
        z = self.embed(slices)

        def contrast(z_m: torch.Tensor, m: int) -> torch.Tensor:
            return self.loss(F.normalize(z_m.float(), dim=-1).view(-1, c.split_count, m))

        loss = self.nested(z, contrast)  # Matryoshka sizes, when core sets them
        return {"loss": loss, "slice_len": slices["mask"].sum(1).float().mean()}


def build(config: CoLESConfig, data: Any) -> CoLES:
    if config.slice_min < 1 or config.slice_max < config.slice_min:
        from sslkit.core.errors import ConfigError

        raise ConfigError(
            f"method.slice_min={config.slice_min}, method.slice_max={config.slice_max}: "
            "need 1 <= slice_min <= slice_max"
        )
    if config.split_count < 2:
        from sslkit.core.errors import ConfigError

        raise ConfigError(
            "method.split_count must be at least 2 (slices of one entity are positives)"
        )
    check_lengths(data, config.slice_min, f"method.slice_min={config.slice_min}")
    return CoLES(config, data.info)
