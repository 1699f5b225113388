"""Masked event modeling: hide events (or single fields) and predict them from the context."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives import MaskedPrediction
from sslkit.events.augment import crop
from sslkit.events.configs import MEMConfig
from sslkit.events.encoders import build_encoder
from sslkit.events.methods.base import EventsMethod, check_lengths


class MEM(EventsMethod):
    """Masked event modeling, BERT's masked language modeling (Devlin et al., NAACL 2019)
    applied to event sequences as in TabBERT (Padhi et al., "Tabular Transformers for Modeling
    Multivariate Time Series", ICASSP 2021) and pytorch-lifestream's MLM module.

    ``mask_mode = "event"``: a share ``mask_prob`` of the events (at least one per history)
    is replaced by a learned [MASK] event vector; every field of those events is predicted
    from the encoder's output at their position. ``mask_mode = "field"``: single fields are
    hidden (categorical values by a [MASK] code, numeric ones by a learned vector) and only
    those are predicted. Loss: cross-entropy per categorical field (the core's
    ``MaskedPrediction``) plus ``num_weight`` times the mean squared error of the scaled
    numeric fields. The embedding pools the encoder output over the whole history.

    Matryoshka (``method.matryoshka_dims``): the embedding pools the encoder's outputs event by
    event (mean, max or the last one), so its first ``m`` coordinates pool the first ``m`` of
    the outputs. The loss goes through ``Method.nested``: for each size ``m`` prediction heads
    of their own (one per categorical field, one for the numeric fields) read the first ``m``
    coordinates of the outputs at the hidden positions; the losses are averaged term by term.
    """

    matryoshka = True

    def __init__(self, config: MEMConfig, info: dict[str, Any]):
        # each mask mode has its own learned mask vectors: the other mode's would be a
        # parameter no step uses, which stalls DDP's gradient sync
        field = config.mask_mode != "event"
        super().__init__(build_encoder(config, info, maskable=field))
        self.config = config
        self.cat_sizes = list(info["cat_sizes"])
        self.n_num = len(info["num_fields"])
        if not field:
            self.mask_event = nn.Parameter(torch.zeros(self.encoder.embedding.out_dim))
            nn.init.normal_(self.mask_event, std=0.02)
        # one NestedHeads per field (its head of each size), so that checkpoints of before
        # Matryoshka (cat_heads.<i>.weight, num_head.weight) load
        self.cat_heads = nn.ModuleList(
            self.nested_heads(lambda m, v=v: nn.Linear(m, v)) for v in self.cat_sizes
        )
        self.num_head = (
            self.nested_heads(lambda m: nn.Linear(m, self.n_num)) if self.n_num else None
        )
        self.ce = MaskedPrediction()

    def _draw(self, shape: tuple[int, ...], valid: torch.Tensor) -> torch.Tensor:
        return (torch.rand(shape, device=valid.device) < self.config.mask_prob) & valid

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        batch = crop(batch, c.crop_len)
        cat, num, mask = batch["cats"], batch["nums"], batch["mask"]
        b, t, n_cat = cat.shape
        if c.mask_mode == "event":
            hidden = self._draw((b, t), mask)
            # at least one hidden event per history
            none = ~hidden.any(1) & mask.any(1)
            if none.any():
                length = mask.sum(1).clamp_min(1)
                pick = (torch.rand(b, device=mask.device) * length).long().clamp(max=length - 1)
                hidden[none, pick[none]] = True
            x = self.encoder.embedding(cat, num)
            x = torch.where(hidden.unsqueeze(-1), self.mask_event.to(x.dtype), x)
            cat_hidden = hidden.unsqueeze(-1).expand(b, t, n_cat)
            num_hidden = hidden.unsqueeze(-1).expand(b, t, self.n_num)
        else:
            cat_hidden = self._draw((b, t, n_cat), mask.unsqueeze(-1))
            num_hidden = self._draw((b, t, self.n_num), mask.unsqueeze(-1))
            mask_codes = torch.tensor([v - 1 for v in self.cat_sizes], device=cat.device)
            cat_in = torch.where(cat_hidden, mask_codes, cat)
            x = self.encoder.embedding(cat_in, num, num_masked=num_hidden)
        out, _ = self.encoder.contextualize(x, mask)

        def predict(out: torch.Tensor, m: int) -> dict[str, torch.Tensor]:
            logs: dict[str, torch.Tensor] = {}
            cat_losses = []
            for i, heads in enumerate(self.cat_heads):
                sel = cat_hidden[..., i]
                logits = heads.at(m)(out[sel])
                cat_losses.append(self.ce(logits.unsqueeze(0), cat[..., i][sel].unsqueeze(0)))
            loss_cat = torch.stack(cat_losses).mean() if cat_losses else out.new_zeros(())
            loss = loss_cat
            logs["loss_cat"] = loss_cat.detach()
            if self.num_head is not None:
                pred = self.num_head.at(m)(out)
                err = F.mse_loss(pred.float(), num.float(), reduction="none")
                w = num_hidden.float()
                count = w.sum()
                loss_num = D.globalize_loss((err * w).sum() / count.clamp_min(1), count)
                loss = loss + c.num_weight * loss_num
                logs["loss_num"] = loss_num.detach()
            logs["loss"] = loss
            return logs

        return self.nested(out, predict)


def build(config: MEMConfig, data: Any) -> MEM:
    check_lengths(data, 2, "data.min_events=2 (masked event modeling needs context)")
    return MEM(config, data.info)
