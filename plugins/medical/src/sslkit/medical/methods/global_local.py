"""Global and local contrast for segmentation with limited annotations: Chaitanya, Erdil,
Karani, Konukoglu, "Contrastive learning of global and local features for medical image
segmentation with limited annotations" (NeurIPS 2020); krishnabits001/domain_specific_cl.

- Global (their ``G^D-`` strategy): each volume is divided into ``partitions`` along its last
  axis; a view is a sub-volume from one partition (:class:`~sslkit.medical.augment.
  PartitionViews`), and sub-volumes from the same partition of *different* volumes are
  positives of each other, besides the two views of one sub-volume (core's
  :class:`~sslkit.core.objectives.InfoNCE` with the partition as label: SupCon's form, negatives
  gathered from every rank). The encoder is the contracting half of MONAI's BasicUNet, a
  2-layer MLP projects its pooled output.
- Local: the first ``local_levels`` blocks of the UNet's expanding half and a 1x1x1
  convolution head map the encoder's maps to a feature map; its ``local_region``-sided regions
  are averaged into local embeddings, and the same region of the two views of one sub-volume is
  a positive, every other region of that sub-volume's two views a negative (their ``L_l``).

Deviation, said plainly: the paper trains the global stage, then the local stage with the
encoder frozen. Here both losses are summed in every step and the local loss reads the encoder's
maps detached, so the encoder still learns from the global loss only and the decoder from the
local loss only, but the decoder sees the encoder while it trains (one run, no stage switch).
The exported encoder is the UNet's contracting half (global embedding: mean of the deepest map);
the ``segmentation`` task also loads the local stage's up-sampling blocks
(:meth:`GlobalLocal.decoder_blocks`) into the BasicUNet it fine-tunes, as the paper fine-tunes
the pretrained encoder and decoder blocks.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import InfoNCE
from sslkit.medical.augment import PartitionViews
from sslkit.medical.configs import GlobalLocalConfig
from sslkit.medical.encoders import unet_decoder
from sslkit.medical.methods.base import MedicalMethod


def local_nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """``z`` ``(images, 2, regions, dim)``: NT-Xent within each image, positives the same region
    of the other view, negatives the other regions of both views of that image only. Written
    here because core's kernel contrasts across the whole (gathered) batch."""
    b, _, r, _ = z.shape
    z = F.normalize(z.float(), dim=-1).reshape(b, 2 * r, -1)
    sim = z @ z.transpose(1, 2) / temperature  # (images, 2r, 2r)
    eye = torch.eye(2 * r, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))
    pos = torch.cat([torch.arange(r, 2 * r), torch.arange(0, r)]).to(z.device)
    positive = sim.gather(2, pos.view(1, -1, 1).expand(b, -1, 1))[..., 0]
    return (torch.logsumexp(sim, dim=2) - positive).mean()


class LocalDecoder(nn.Module):
    """The first ``levels`` up-sampling blocks of the BasicUNet and a 1x1 projection head."""

    def __init__(self, encoder: nn.Module, levels: int, dim: int):
        super().__init__()
        full = unet_decoder(encoder, 1)
        self.blocks = nn.ModuleList([full.upcat_4, full.upcat_3, full.upcat_2][:levels])
        chans = self.blocks[-1].convs.conv_1.conv.out_channels
        conv = nn.Conv3d if encoder.spatial_dims == 3 else nn.Conv2d
        self.head = nn.Sequential(conv(chans, chans, 1), nn.ReLU(), conv(chans, dim, 1))

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        u = maps[-1]
        for block, skip in zip(self.blocks, maps[-2::-1]):
            u = block(u, skip)
        return self.head(u)


class GlobalLocal(MedicalMethod):
    needs = ("unet",)
    matryoshka = True

    def __init__(self, cfg: GlobalLocalConfig, info: dict[str, Any]):
        super().__init__(cfg, info, "global-local")
        self.head = self.nested_heads(
            lambda m: MLPHead(m, self.embed_dim, cfg.proj_dim, num_layers=2, batchnorm=False)
        )
        self.local = LocalDecoder(self.encoder, int(cfg.local_levels), int(cfg.proj_dim))
        self.loss = InfoNCE(temperature=cfg.temperature)

    def decoder_blocks(self) -> dict[str, nn.Module]:
        """The local stage's up-sampling blocks by their BasicUNet names, for segmentation."""
        names = ("upcat_4", "upcat_3", "upcat_2")
        return dict(zip(names, self.local.blocks, strict=False))

    def train_transform(self) -> PartitionViews:
        c = self.cfg
        return PartitionViews(self.size, c.partitions, c.crop, c.intensity)

    def training_step(self, batch: Any, step: int):
        views, part = batch  # (batch, 2, channels, *size), (batch,)
        b = views.shape[0]
        maps = self.encoder.maps(views.flatten(0, 1))
        pooled = maps[-1].flatten(2).mean(-1).reshape(b, 2, -1)

        def contrast(z, m: int):
            return self.loss(self.head.at(m)(z), labels=part)

        g = self.nested(pooled, contrast)
        feat = self.local([m.detach() for m in maps])
        r = int(self.cfg.local_region)
        pool = F.avg_pool3d if feat.dim() == 5 else F.avg_pool2d
        regions = pool(feat, r).flatten(2).transpose(1, 2)  # (2b, regions, dim)
        loc = local_nt_xent(regions.reshape(b, 2, *regions.shape[1:]), self.cfg.temperature)
        return {"loss": g + loc, "global": g.detach(), "local": loc.detach()}


def build(cfg: GlobalLocalConfig, data: Any) -> GlobalLocal:
    return GlobalLocal(cfg, data.info)
