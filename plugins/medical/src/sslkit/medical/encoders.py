"""Encoders from MONAI networks, 2-D or 3-D as the data: what every method builds and exports.

:class:`MedicalEncoder` maps an image batch ``(batch, channels, *size)`` to ``(batch, dim)``:

- ``resnet10`` / ``resnet18`` / ``resnet50``: MONAI ``ResNet`` (basic or bottleneck blocks,
  layers 1-1-1-1 / 2-2-2-2 / 3-4-6-3), stage widths ``width x (1, 2, 4, 8)``, global average
  pooling (``feed_forward=False``). Images under 64 per axis get a 3^3 stride-2 stem without
  max pooling (28^3 -> 14^3: a stride-1 stem made training 10x slower on CPU for no gain we
  could afford to measure), larger ones the paper's 7^3 stride-2 stem and max pooling.
- ``vit``: MONAI ``ViT`` (convolutional patch embedding, learnable position embedding,
  ``depth`` pre-norm blocks, final LayerNorm): the encoder of ``ViTAutoEnc`` and of UNETR, with
  their module names, so its weights load into ``UNETR.vit``; the embedding is the mean token.
- ``swin``: the Swin transformer of MONAI's ``SwinUNETR`` (``swinViT``, feature size
  ``width``); the embedding is the mean of its last, normalised, stage. Sizes divisible by 32.
- ``unet``: the contracting half of MONAI's ``BasicUNet`` (``conv_0``, ``down_1..4``, names as
  there, so its weights load into a BasicUNet), features ``width x (1, 1, 2, 4, 8)``; the
  embedding is the mean of the deepest map. :func:`unet_decoder` builds the other half.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.core.nn import records_init
from sslkit.medical.configs import EncoderOptions
from sslkit.medical.monai_quiet import quiet_monai

__all__ = ["EncoderOptions", "MedicalEncoder", "build_encoder", "unet_decoder", "unet_features"]

RESNETS = {"resnet10": ("basic", [1, 1, 1, 1]), "resnet18": ("basic", [2, 2, 2, 2]),
           "resnet50": ("bottleneck", [3, 4, 6, 3])}  # fmt: skip


def vit_heads(width: int, heads: int) -> int:
    return heads or max(1, width // 64)


def drop_unused_norms(blocks: nn.ModuleList) -> None:
    """MONAI's ``TransformerBlock`` builds ``norm_cross_attn`` even without cross-attention,
    where no step uses it (DDP stalls on a parameter without gradient): an identity there."""
    for blk in blocks:
        if not getattr(blk, "with_cross_attention", True):
            blk.norm_cross_attn = nn.Identity()


def unet_features(width: int) -> tuple[int, ...]:
    return (width, width, 2 * width, 4 * width, 8 * width, width)


@records_init
class MedicalEncoder(nn.Module):
    def __init__(
        self, arch: str, spatial_dims: int, in_channels: int, size: list[int], width: int,
        depth: int = 0, heads: int = 0, patch: int = 16,
    ):  # fmt: skip
        super().__init__()
        quiet_monai()
        self.arch, self.spatial_dims = arch, int(spatial_dims)
        self.size = [int(s) for s in size]
        small = min(self.size) < 64
        if arch in RESNETS:
            from monai.networks.nets import ResNet

            block, layers = RESNETS[arch]
            self.net = ResNet(
                block, layers, [width, 2 * width, 4 * width, 8 * width],
                spatial_dims=spatial_dims, n_input_channels=in_channels,
                conv1_t_size=3 if small else 7, conv1_t_stride=2,
                no_max_pool=small, feed_forward=False,
            )  # fmt: skip
            self.out_dim = 8 * width * (4 if block == "bottleneck" else 1)
        elif arch == "vit":
            from monai.networks.nets import ViT

            self.patch = int(patch)
            self.net = ViT(
                in_channels, self.size, self.patch, hidden_size=width, mlp_dim=4 * width,
                num_layers=depth or 12, num_heads=vit_heads(width, heads), proj_type="conv",
                classification=False, spatial_dims=spatial_dims,
            )  # fmt: skip
            drop_unused_norms(self.net.blocks)
            self.out_dim = width
        elif arch == "swin":
            from monai.networks.nets.swin_unetr import SwinTransformer

            self.net = SwinTransformer(
                in_chans=in_channels, embed_dim=width, window_size=(7,) * spatial_dims,
                patch_size=(2,) * spatial_dims, depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24),
                spatial_dims=spatial_dims,
            )  # fmt: skip
            self.out_dim = 16 * width
        elif arch == "unet":
            from monai.networks.nets import BasicUNet

            full = BasicUNet(spatial_dims, in_channels, 1, features=unet_features(width))
            for name in ("conv_0", "down_1", "down_2", "down_3", "down_4"):
                setattr(self, name, getattr(full, name))
            self.out_dim = 8 * width
        else:
            raise ValueError(f"unknown arch {arch!r}")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """ViT: the normalised tokens ``(batch, patches, width)``."""
        return self.net(x)[0]

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """UNet: the five encoder maps, shallow to deep (the skips of the decoder)."""
        x0 = self.conv_0(x)
        x1 = self.down_1(x0)
        x2 = self.down_2(x1)
        x3 = self.down_3(x2)
        return [x0, x1, x2, x3, self.down_4(x3)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch in RESNETS:
            return self.net(x)
        if self.arch == "vit":
            return self.tokens(x).mean(dim=1)
        if self.arch == "swin":
            return self.net(x, True)[-1].flatten(2).mean(-1)
        return self.maps(x)[-1].flatten(2).mean(-1)


def check_size(arch: str, size: list[int], patch: int) -> None:
    from sslkit.core.errors import ConfigError

    if arch == "vit" and any(s % patch for s in size):
        raise ConfigError(
            f"method.patch = {patch} does not divide the image size {size}: choose a patch "
            "that divides it, or set data.size"
        )
    if arch == "swin" and any(s % 32 for s in size):
        raise ConfigError(
            f"the swin encoder needs sizes divisible by 32, not {size}: set data.size (e.g. 32)"
        )
    if arch == "unet" and any(s % 16 or s < 32 for s in size):
        raise ConfigError(
            f"the unet encoder pools four times (instance norm needs 2 voxels a side at the "
            f"bottom): sizes of at least 32 divisible by 16, not {size}; set data.size (e.g. 32)"
        )


def build_encoder(options: Any, info: dict[str, Any]) -> MedicalEncoder:
    """The encoder ``options`` (an :class:`EncoderOptions`) name, for images as ``info``
    (``spatial_dims``, ``in_channels``, ``size``) describes them."""
    size = [int(s) for s in info["size"]]
    check_size(options.arch, size, int(options.patch))
    return MedicalEncoder(
        options.arch, int(info["spatial_dims"]), int(info["in_channels"]), size,
        int(options.width), int(options.depth), int(options.heads), int(options.patch),
    )  # fmt: skip


def unet_decoder(encoder: MedicalEncoder, out_channels: int) -> nn.Module:
    """The expanding half of the BasicUNet whose contracting half is ``encoder`` (arch unet)."""
    from monai.networks.nets import BasicUNet

    w = encoder.conv_0.conv_0.conv.out_channels
    full = BasicUNet(encoder.spatial_dims, 1, out_channels, features=unet_features(w))
    return UNetDecoder(full)


class UNetDecoder(nn.Module):
    def __init__(self, full: nn.Module):
        super().__init__()
        self.upcat_4, self.upcat_3 = full.upcat_4, full.upcat_3
        self.upcat_2, self.upcat_1 = full.upcat_2, full.upcat_1
        self.final_conv = full.final_conv

    def forward(self, maps: list[torch.Tensor], levels: int = 4) -> torch.Tensor:
        """Decode the encoder ``maps``; ``levels < 4`` stops early and returns that map."""
        x0, x1, x2, x3, x4 = maps
        u = self.upcat_4(x4, x3)
        for k, (up, skip) in enumerate(
            ((self.upcat_3, x2), (self.upcat_2, x1), (self.upcat_1, x0))
        ):
            if levels <= k + 1:
                return u
            u = up(u, skip)
        return self.final_conv(u)
