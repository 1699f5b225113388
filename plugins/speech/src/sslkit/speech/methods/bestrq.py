"""BEST-RQ (Chiu et al. 2022, "Self-supervised Learning with Random-projection Quantizer for
Speech Recognition").

The targets are codes of a frozen random-projection quantizer (core's ``BestRQQuantizer``:
Xavier projection to ``code_dim`` 16, nearest of ``codebook_size`` 8192 normalised random codes)
of the per-utterance standardised log-mel frames stacked ``subsample`` at a time (one stack per
encoder frame; the paper stacks 4 frames for its 4x subsampling). Masked frames (spans of
``mask_span`` 4 from ``mask_prob`` 0.15 starts, SpeechBrain's recipe) have their filterbanks
replaced by normal noise (std 0.1) before the encoder; a linear softmax over the codebook on
the last layer predicts each masked frame's code (``MaskedPrediction``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.core.objectives import BestRQQuantizer, MaskedPrediction
from sslkit.speech.encoders import build_encoder
from sslkit.speech.methods.base import SpeechMethod, frame_mask


class BestRQ(SpeechMethod):
    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__(build_encoder(cfg, info), info["crop"])
        self.cfg = cfg
        self.stack = int(cfg.subsample)
        self.quantizer = BestRQQuantizer(cfg.n_mels * self.stack, cfg.codebook_size, cfg.code_dim)
        self.head = nn.Linear(cfg.dim, cfg.codebook_size)
        self.loss = MaskedPrediction()

    def targets(self, fbank: torch.Tensor, frames: int) -> torch.Tensor:
        b, t, f = fbank.shape
        usable = min(frames, t // self.stack)
        stacked = fbank[:, : usable * self.stack].reshape(b, usable, self.stack * f)
        ids = self.quantizer(stacked)
        return nn.functional.pad(ids, (0, frames - usable), value=-100)

    def training_step(self, batch: dict[str, torch.Tensor], step: int):
        wave, lengths = batch["wave"], batch["lengths"]
        with torch.no_grad():
            fbank, _ = self.encoder.fbank(wave, lengths)
            valid = self.encoder.grid(wave, lengths)
        ids = self.targets(fbank, valid.shape[1]).masked_fill(~valid, -100)
        mask = frame_mask(valid, self.cfg.mask_prob, self.cfg.mask_span)
        x, valid = self.encoder.frames(wave, lengths, fbank_mask=mask, noise_std=self.cfg.noise_std)
        hidden = self.encoder.transformer(x, valid)
        # the 8192-way softmax only where it is scored: the masked frames
        logits = self.head(hidden[-1][mask])[None]
        picked = ids[mask][None]
        loss = self.loss(logits, picked)
        with torch.no_grad():
            counted = picked >= 0
            acc = ((logits.argmax(-1) == picked) & counted).sum() / counted.sum().clamp_min(1)
        return {"loss": loss, "masked_acc": acc.detach()}


def build(cfg: Any, data: Any) -> BestRQ:
    from sslkit.core.errors import ConfigError

    if cfg.frontend != "fbank":
        raise ConfigError(
            "bestrq quantizes filterbank frames and masks them with noise: method.frontend=fbank"
        )
    return BestRQ(cfg, data.info)
