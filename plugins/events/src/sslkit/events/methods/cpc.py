"""Contrastive predictive coding over event sequences."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.events.augment import crop
from sslkit.events.configs import CPCConfig
from sslkit.events.encoders import build_encoder
from sslkit.events.methods.base import EventsMethod, check_lengths


class CPC(EventsMethod):
    """Contrastive predictive coding (van den Oord, Li, Vinyals, "Representation Learning with
    Contrastive Predictive Coding", 2018) over the events of each history.

    ``z_t`` is each event's vector (event embedding and a linear map), ``c_t`` the causal
    encoder's output after events ``<= t`` (a GRU, or a Transformer with causal attention).
    For ``k = 1..steps`` a linear ``W_k c_t`` scores the true future event ``z_{t+k}`` against
    ``negatives`` events drawn from the whole batch: the InfoNCE of the paper (cross-entropy of
    the true event among the candidates, scores ``W_k c_t . z / temperature``). The embedding
    pools the encoder output over the whole history (the last state for a GRU).

    Matryoshka (``method.matryoshka_dims``): the embedding pools the contexts ``c_t`` event by
    event (mean, max or the last one), so its first ``m`` coordinates pool the first ``m`` of
    the contexts. The loss goes through ``Method.nested``: for each size ``m`` predictors
    ``W_k`` of their own map the first ``m`` coordinates of ``c_t`` to the event vectors ``z``
    (not the embedding: full width), against the same drawn negatives; the losses (and the
    accuracies) are averaged.
    """

    matryoshka = True

    def __init__(self, config: CPCConfig, info: dict[str, Any]):
        super().__init__(build_encoder(config, info, causal=True))
        self.config = config
        h = self.encoder.out_dim
        self.target = nn.Linear(self.encoder.embedding.out_dim, h)
        # one NestedHeads per step k (W_k of each size), so that checkpoints of before
        # Matryoshka (predictors.<k>.weight) load
        self.predictors = nn.ModuleList(
            self.nested_heads(lambda m: nn.Linear(m, h, bias=False)) for _ in range(config.steps)
        )

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        batch = crop(batch, c.crop_len)
        cat, num, mask = batch["cats"], batch["nums"], batch["mask"]
        x = self.encoder.embedding(cat, num)
        ctx, _ = self.encoder.contextualize(x, mask)
        z = self.target(x)
        pool = z[mask]  # every real event of the batch: the candidates for negatives
        n_neg = min(c.negatives, max(len(pool) - 1, 1))
        neg = pool[torch.randint(len(pool), (n_neg,), device=pool.device)]

        def predictive(ctx: torch.Tensor, m: int) -> dict[str, torch.Tensor]:
            total, count, correct = (ctx.sum() + z.sum()) * 0.0, 0, 0  # keeps the graph
            for k, heads in enumerate(self.predictors, start=1):
                if mask.shape[1] <= k:
                    break
                ok = mask[:, :-k] & mask[:, k:]
                if not ok.any():
                    continue
                pred = heads.at(m)(ctx[:, :-k][ok]).float()
                target = z[:, k:][ok].float()
                pos = (pred * target).sum(-1, keepdim=True)
                logits = torch.cat([pos, pred @ neg.float().T], dim=1) / c.temperature
                zeros = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
                total = total + F.cross_entropy(logits, zeros, reduction="sum")
                count += len(logits)
                correct += int((logits.argmax(1) == 0).sum())
            n = max(count, 1)
            loss = D.globalize_loss(total / n, n)
            return {"loss": loss, "accuracy": torch.tensor(correct / n)}

        return self.nested(ctx, predictive)


def build(config: CPCConfig, data: Any) -> CPC:
    if config.steps < 1:
        from sslkit.core.errors import ConfigError

        raise ConfigError("method.steps must be at least 1")
    check_lengths(data, 2, "data.min_events=2 (CPC predicts later events of a history)")
    return CPC(config, data.info)
