"""DinoSR (Liu et al. 2023, "DinoSR: Self-Distillation and Online Clustering for
Self-supervised Speech Representation Learning").

An EMA teacher sees the unmasked crop; each of its top ``top_k`` block outputs, instance-
normalised over time, is assigned to the nearest codeword of that layer's own codebook
(``codebook_size`` codewords); the student sees span-masked frames and predicts, with one
linear head a layer on its last hidden state, the codeword of every masked frame in every
codebook (cross-entropy, ``MaskedPrediction``, averaged over the layers). The codebooks are
clustered online: after each step, codeword ``v`` of layer ``k`` becomes ``s_v / n_v`` with
``s_v <- tau s_v + (1 - tau) sum of the frames assigned to it`` and ``n_v <- tau n_v + (1 -
tau) their count`` (``tau`` = ``codebook_decay`` 0.9), the sums all-reduced over the ranks.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.nn import EMATeacher
from sslkit.core.objectives import MaskedPrediction
from sslkit.speech.encoders import build_encoder
from sslkit.speech.methods.base import SpeechMethod, frame_mask


class DinoSR(SpeechMethod):
    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__(build_encoder(cfg, info, maskable=True), info["crop"])
        self.cfg = cfg
        self.top_k = max(1, min(cfg.top_k, cfg.layers))
        self.teacher = EMATeacher(self.encoder, cfg.ema_start, cfg.ema_end)
        self.heads = nn.ModuleList(nn.Linear(cfg.dim, cfg.codebook_size) for _ in range(self.top_k))
        v, d = cfg.codebook_size, cfg.dim
        self.register_buffer("sums", torch.randn(self.top_k, v, d))
        self.register_buffer("counts", torch.ones(self.top_k, v))
        self.loss = MaskedPrediction()

    def codewords(self) -> torch.Tensor:
        return self.sums / self.counts[..., None]

    @torch.no_grad()
    def assign(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """Codeword ids ``(top_k, B, T)`` of the instance-normalised teacher layers."""
        codes = self.codewords()
        ids = []
        for k, h in enumerate(layers):
            x = F.instance_norm(h.float().transpose(1, 2)).transpose(1, 2)
            c = codes[k]
            ids.append((2 * x @ c.T - (c * c).sum(1)).argmax(-1))
        return torch.stack(ids)

    @torch.no_grad()
    def update_codebooks(self, layers: list[torch.Tensor], ids: torch.Tensor, mask: torch.Tensor):
        tau, v = self.cfg.codebook_decay, self.cfg.codebook_size
        for k, h in enumerate(layers):
            x = F.instance_norm(h.float().transpose(1, 2)).transpose(1, 2)[mask]
            onehot = F.one_hot(ids[k][mask], v).to(x.dtype)  # (M, V)
            s = D.all_reduce_sum(onehot.T @ x)
            n = D.all_reduce_sum(onehot.sum(0))
            self.sums[k].mul_(tau).add_((1 - tau) * s)
            self.counts[k].mul_(tau).add_((1 - tau) * n)

    def training_step(self, batch: dict[str, torch.Tensor], step: int):
        wave, lengths = batch["wave"], batch["lengths"]
        with torch.no_grad():
            self.teacher.module.eval()
            t_hidden, _ = self.teacher.module(wave, lengths)
            layers = t_hidden[-self.top_k :]
        ids = self.assign(layers)
        x, valid = self.encoder.frames(wave, lengths)
        mask = frame_mask(valid, self.cfg.mask_prob, self.cfg.mask_span)
        h = self.encoder.transformer(x, valid, mask)[-1]
        loss = sum(self.loss(head(h), ids[k], mask) for k, head in enumerate(self.heads))
        if self.training:
            self.update_codebooks(layers, ids, mask)
        return {"loss": loss / self.top_k, "ema": torch.tensor(self.teacher.momentum)}

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        self.teacher.update(step, total_steps)


def build(cfg: Any, data: Any) -> DinoSR:
    return DinoSR(cfg, data.info)
