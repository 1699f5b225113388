"""Utterance-level speaker contrastive learning: two random crops of one utterance are a
positive pair, the other utterances of the (global) batch negatives, scored by additive-margin
InfoNCE (AM-Softmax on the positive logit; Wang et al. 2018, used for self-supervised speaker
embeddings by Xia et al. 2021, "Self-supervised Text-independent Speaker Verification using
Prototypical Momentum Contrastive Learning", and Huh et al. 2020, "Augmentation adversarial
training for self-supervised speaker recognition").

Each crop is ``crop_fraction`` of its utterance (at most ``data.crop_seconds``), made in the
DataLoader workers; its embedding is the same as ``embed``'s (mean over frames of the average of
all hidden states), projected by a two-layer head (training only) for core's ``AMInfoNCE``
(negatives gathered from every rank).
"""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import AMInfoNCE
from sslkit.speech.augment import Crops
from sslkit.speech.encoders import build_encoder, layer_mean
from sslkit.speech.methods.base import SpeechMethod


class SpeakerContrastive(SpeechMethod):
    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__(build_encoder(cfg, info), info["crop"])
        self.cfg = cfg
        # no BatchNorm: a speaker's embedding does not depend on the other utterances of a batch
        self.projector = MLPHead(cfg.dim, cfg.dim, cfg.proj_dim, batchnorm=False)
        self.loss = AMInfoNCE(temperature=cfg.temperature, margin=cfg.margin)

    def train_transform(self) -> Crops:
        return Crops(self.crop, views=2, fraction=self.cfg.crop_fraction)

    def training_step(self, batch: dict[str, torch.Tensor], step: int):
        wave, lengths = batch["wave"], batch["lengths"]  # (B, 2, L), (B, 2)
        b, v, n = wave.shape
        hidden, valid = self.encoder(wave.reshape(b * v, n), lengths.reshape(b * v))
        z = self.projector(layer_mean(hidden, valid).mean(0)).reshape(b, v, -1)
        return {"loss": self.loss(z)}


def build(cfg: Any, data: Any) -> SpeakerContrastive:
    return SpeakerContrastive(cfg, data.info)
