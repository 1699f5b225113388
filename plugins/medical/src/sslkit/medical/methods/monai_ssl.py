"""MONAI's self-supervised pretraining recipe (Project-MONAI/tutorials,
``self_supervised_pretraining/vit_unetr_ssl``), after Chen et al., "Self-supervised learning
for medical image analysis using image context restoration" (MedIA 2019) and Haghighi et al.
(Models Genesis / TransVW) for the in-painting, out-painting and local-shuffle views.

``ViTAutoEnc``: a ViT encoder (MONAI ``ViT``, convolutional patch embedding) and two strided
transposed convolutions (kernel and stride ``sqrt(patch)``, ``deconv_chns`` channels between)
that map the tokens back to the image. Each image gives two views made in the DataLoader
workers (:class:`~sslkit.medical.augment.RestorationViews`: ``OneOf`` coarse-dropout
in-painting or out-painting, then coarse shuffle). The loss is the tutorial's:
``r = L1(reconstruction of view 1, image)``, ``c = contrastive(flattened reconstructions of
view 1 and view 2)`` (NT-Xent, temperature 0.05; core's InfoNCE, which gathers every rank's
negatives), total ``r + c * r``. The exported encoder is the ViT (mean token).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sslkit.core.errors import ConfigError
from sslkit.core.objectives import InfoNCE
from sslkit.medical.augment import RestorationViews
from sslkit.medical.configs import MonaiSSLConfig
from sslkit.medical.methods.base import MedicalMethod


class TokenDecoder(nn.Module):
    """ViTAutoEnc's decoder: tokens ``(batch, patches, width)`` -> image ``(batch, c, *size)``."""

    def __init__(self, dims: int, width: int, deconv: int, out: int, patch: int, grid: tuple):
        super().__init__()
        from monai.networks.layers import Conv

        k = math.isqrt(patch)
        conv = Conv[Conv.CONVTRANS, dims]
        self.grid = tuple(grid)
        self.conv3d_transpose = conv(width, deconv, kernel_size=k, stride=k)
        self.conv3d_transpose_1 = conv(deconv, out, kernel_size=k, stride=k)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *self.grid)
        return self.conv3d_transpose_1(self.conv3d_transpose(x))


class MonaiSSL(MedicalMethod):
    needs = ("vit",)
    matryoshka = "the contrastive loss reads the reconstructions, not the embedding"

    def __init__(self, cfg: MonaiSSLConfig, info: dict[str, Any]):
        if math.isqrt(cfg.patch) ** 2 != cfg.patch:
            raise ConfigError(
                f"method.patch = {cfg.patch}: ViTAutoEnc's decoder needs a square number "
                "(4, 16, ...), upsampling twice by its root"
            )
        super().__init__(cfg, info, "monai-ssl")
        grid = tuple(s // cfg.patch for s in self.size)
        self.decoder = TokenDecoder(
            len(self.size), cfg.width, cfg.deconv_chns, int(info["in_channels"]), cfg.patch, grid
        )
        self.contrastive = InfoNCE(temperature=cfg.temperature)

    def train_transform(self) -> RestorationViews:
        c = self.cfg
        return RestorationViews(self.size, c.holes, c.hole_size, c.shuffle_holes, c.shuffle_size)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder.tokens(x))

    def training_step(self, batch: Any, step: int):
        (views,) = batch  # (batch, 3, channels, *size): the image, view 1, view 2
        b = views.shape[0]
        gt = views[:, 0]
        out = self.reconstruct(views[:, 1:].flatten(0, 1)).reshape(b, 2, *gt.shape[1:])
        r = (out[:, 0].float() - gt.float()).abs().mean()
        c = self.contrastive(out.flatten(2))
        return {"loss": r + c * r, "l1": r.detach(), "contrastive": c.detach()}


def build(cfg: MonaiSSLConfig, data: Any) -> MonaiSSL:
    return MonaiSSL(cfg, data.info)
