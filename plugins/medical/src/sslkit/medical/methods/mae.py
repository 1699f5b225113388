"""MAE on 2-D or 3-D patches: He, Chen, Xie, Li, Dollár, Girshick, "Masked Autoencoders Are
Scalable Vision Learners" (CVPR 2022); facebookresearch/mae ``models_mae.py``.

The image is cut into ``patch``-sided patches (MONAI ViT's convolutional patch embedding with
its learnable position embedding); a random ``mask_ratio`` of them (75%) is dropped, the
encoder (MONAI ViT blocks and final norm) sees the visible rest, a light decoder (its own
width and depth, a learned mask token, its own position embedding) predicts the pixels of
every patch, and the loss is the mean squared error on the masked patches of each patch's
standardised pixels (``norm_pix_loss``; core's
:class:`~sslkit.core.objectives.MaskedReconstruction`). The masking noise is drawn per image in
the DataLoader workers (:class:`~sslkit.medical.augment.PatchNoise`). The exported encoder is
the ViT on the whole image (mean token), as MAE's linear probing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from sslkit.core.objectives import MaskedReconstruction
from sslkit.medical.augment import PatchNoise
from sslkit.medical.configs import MAEConfig
from sslkit.medical.encoders import drop_unused_norms
from sslkit.medical.methods.base import MedicalMethod


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """``(batch, c, *size)`` -> ``(batch, patches, p^dims * c)``, patches in the raster order of
    MONAI's convolutional patch embedding."""
    b, c, *size = x.shape
    grid = [s // p for s in size]
    shape = [b, c]
    for g in grid:
        shape += [g, p]
    x = x.reshape(shape)
    d = len(size)
    grid_axes = [2 + 2 * i for i in range(d)]
    patch_axes = [3 + 2 * i for i in range(d)]
    x = x.permute(0, *grid_axes, *patch_axes, 1)
    return x.reshape(b, math.prod(grid), p**d * c)


class MAE(MedicalMethod):
    needs = ("vit",)
    matryoshka = "MAE reconstructs pixels from tokens; it has no embedding-level loss"

    def __init__(self, cfg: MAEConfig, info: dict[str, Any]):
        super().__init__(cfg, info, "mae")
        from monai.networks.blocks.transformerblock import TransformerBlock

        p, c = int(cfg.patch), int(info["in_channels"])
        self.patches = math.prod(s // p for s in self.size)
        dw = int(cfg.decoder_width)
        self.decoder_embed = nn.Linear(cfg.width, dw)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dw))
        self.decoder_pos = nn.Parameter(torch.zeros(1, self.patches, dw))
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        heads = max(1, dw // 64)
        self.decoder_blocks = nn.ModuleList(
            [
                TransformerBlock(dw, 4 * dw, heads, 0.0, qkv_bias=True)
                for _ in range(cfg.decoder_depth)
            ]
        )
        drop_unused_norms(self.decoder_blocks)
        self.decoder_norm = nn.LayerNorm(dw)
        self.decoder_pred = nn.Linear(dw, p ** len(self.size) * c)
        self.loss = MaskedReconstruction(norm_targets=cfg.norm_pixels)

    def train_transform(self) -> PatchNoise:
        return PatchNoise(self.patches)

    def encode_visible(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        vit = self.encoder.net
        t = vit.patch_embedding(x)  # (batch, patches, width), position embedding added
        t = torch.gather(t, 1, keep[..., None].expand(-1, -1, t.shape[-1]))
        for blk in vit.blocks:
            t = blk(t)
        return vit.norm(t)

    def training_step(self, batch: Any, step: int):
        x, noise = batch
        b, n = noise.shape
        n_keep = max(1, round(n * (1 - self.cfg.mask_ratio)))
        order = noise.argsort(dim=1)
        keep = order[:, :n_keep]
        mask = torch.ones(b, n, dtype=torch.bool, device=x.device)
        mask.scatter_(1, keep, False)  # True: masked
        latent = self.decoder_embed(self.encode_visible(x, keep))
        full = self.mask_token.expand(b, n, -1).to(latent.dtype).clone()
        full = full.scatter(1, keep[..., None].expand(-1, -1, full.shape[-1]), latent)
        h = full + self.decoder_pos
        for blk in self.decoder_blocks:
            h = blk(h)
        pred = self.decoder_pred(self.decoder_norm(h))
        target = patchify(x, int(self.cfg.patch))
        return {"loss": self.loss(pred, target, mask)}


def build(cfg: MAEConfig, data: Any) -> MAE:
    return MAE(cfg, data.info)
