"""data2vec for speech (Baevski et al. 2022, "data2vec: A General Framework for Self-supervised
Learning in Speech, Vision and Language").

The student sees span-masked frames (the learned mask vector; fairseq's mask_prob 0.65 with
spans of 10, ``mask_prob=0.065`` starts per frame here) and regresses, with a linear head on
its last layer, the teacher's targets at the masked frames: the average of the teacher's top
``top_k`` block outputs, each instance-normalised over time (``LatentPrediction``, MSE). The
teacher is an exponential moving average of the student (``ema_start`` -> ``ema_end``,
core's ``EMATeacher``) that sees the unmasked crop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.core.nn import EMATeacher
from sslkit.core.objectives import LatentPrediction
from sslkit.speech.encoders import build_encoder
from sslkit.speech.methods.base import SpeechMethod, frame_mask


class Data2Vec(SpeechMethod):
    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__(build_encoder(cfg, info, maskable=True), info["crop"])
        self.cfg = cfg
        self.teacher = EMATeacher(self.encoder, cfg.ema_start, cfg.ema_end)
        self.head = nn.Linear(cfg.dim, cfg.dim)
        self.top_k = max(1, min(cfg.top_k, cfg.layers))
        self.loss = LatentPrediction(top_k=self.top_k, target_norm="instance")

    def training_step(self, batch: dict[str, torch.Tensor], step: int):
        wave, lengths = batch["wave"], batch["lengths"]
        with torch.no_grad():
            self.teacher.module.eval()
            teacher_hidden, _ = self.teacher.module(wave, lengths)
        x, valid = self.encoder.frames(wave, lengths)
        mask = frame_mask(valid, self.cfg.mask_prob, self.cfg.mask_span)
        hidden = self.encoder.transformer(x, valid, mask)
        loss = self.loss(self.head(hidden[-1]), teacher_hidden[1:], mask)
        return {"loss": loss, "ema": torch.tensor(self.teacher.momentum)}

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        self.teacher.update(step, total_steps)


def build(cfg: Any, data: Any) -> Data2Vec:
    return Data2Vec(cfg, data.info)
