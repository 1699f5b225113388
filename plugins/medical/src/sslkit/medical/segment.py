"""Segmentation fine-tuning with few labelled images, with and without the pretrained encoder.

The network is the segmentation network of the encoder's family, built by MONAI: a
``BasicUNet`` for ``unet`` (the pretrained contracting half, a new expanding half but for the
up-sampling blocks the method pretrained: global-local's local stage, as Chaitanya et al.
fine-tune their pretrained encoder and decoder blocks), a
``SwinUNETR`` for ``swin`` (its ``swinViT`` pretrained), a ``UNETR`` for ``vit`` (its ``vit``
pretrained; UNETR's fixed 16^3 patches and 12 blocks). The same network from scratch (same
seed) is trained beside it. Loss: MONAI ``DiceCELoss`` (softmax, one-hot labels, the background left out of the Dice
term: with it, small structures stayed at Dice 0 for the first tens of steps); Adam
``LR``, ``STEPS`` steps on the train images with masks (random flips), then MONAI
``DiceMetric`` per foreground class on the test images with masks (on the train images when
there is no test split: the fit on the few labelled volumes, said in the result's ``scored_on``).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.medical.finetune import _flip, fresh_encoder
from sslkit.medical.monai_quiet import quiet_monai

STEPS = 60
LR = 3e-3
BATCH = 2


def segmentation_network(
    encoder: nn.Module, classes: int, decoder: dict[str, nn.Module] | None = None
) -> nn.Module | str:
    """A MONAI segmentation network whose encoder holds ``encoder``'s weights (a copy), and
    whose BasicUNet blocks named in ``decoder`` (``upcat_4``, ...) hold those blocks' weights;
    or why there is none for this encoder."""
    quiet_monai()
    from monai.networks.nets import UNETR, BasicUNet, SwinUNETR

    from sslkit.medical.encoders import unet_features

    arch, dims = encoder.arch, encoder.spatial_dims
    if arch == "unet":
        width = encoder.conv_0.conv_0.conv.out_channels
        in_ch = encoder.conv_0.conv_0.conv.in_channels
        net = BasicUNet(dims, in_ch, classes, features=unet_features(width))
        missing = net.load_state_dict(encoder.state_dict(), strict=False).missing_keys
        assert all(not k.startswith(("conv_0", "down_")) for k in missing)
        for name, block in (decoder or {}).items():
            getattr(net, name).load_state_dict(block.state_dict())
        return net
    if arch == "swin":
        width = encoder.net.patch_embed.embed_dim
        in_ch = encoder.net.patch_embed.proj.in_channels
        net = SwinUNETR(in_ch, classes, feature_size=width, spatial_dims=dims)
        net.swinViT.load_state_dict(encoder.net.state_dict())
        return net
    if arch == "vit":
        vit = encoder.net
        blocks, width = len(vit.blocks), vit.norm.normalized_shape[0]
        if encoder.patch != 16 or blocks != 12:
            return f"UNETR needs the ViT of patch 16 and 12 blocks (this one: {encoder.patch}, {blocks})"
        in_ch = vit.patch_embedding.patch_embeddings.in_channels
        heads = vit.blocks[0].attn.num_heads
        net = UNETR(in_ch, classes, encoder.size, hidden_size=width, mlp_dim=4 * width,
                    num_heads=heads, spatial_dims=dims)  # fmt: skip
        net.vit.load_state_dict(vit.state_dict(), strict=False)
        return net
    return f"no segmentation network for the {arch} encoder (use unet, swin or vit)"


def train_segmentation(
    net: nn.Module, images: torch.Tensor, masks: torch.Tensor, classes: int, seed: int,
    steps: int = STEPS, lr: float = LR,
) -> nn.Module:  # fmt: skip
    from monai.losses import DiceCELoss

    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(images), (min(BATCH, len(images)),), generator=gen)
        both = _flip(torch.cat([images[idx], masks[idx].float()], dim=1), gen)
        x, y = both[:, : images.shape[1]], both[:, images.shape[1] :]
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def dice_per_class(net: nn.Module, images: torch.Tensor, masks: torch.Tensor, classes: int):
    from monai.metrics import DiceMetric

    metric = DiceMetric(include_background=False, reduction="mean_batch", ignore_empty=False)
    net.eval()
    with torch.no_grad():
        pred = net(images).argmax(1, keepdim=True)
    onehot = torch.nn.functional.one_hot
    p = onehot(pred[:, 0], classes).movedim(-1, 1)
    t = onehot(masks[:, 0].long(), classes).movedim(-1, 1)
    metric(p, t)
    return metric.aggregate().numpy()


def segment(
    encoder: nn.Module, data: Any, seed: int, steps: int = STEPS, lr: float = LR,
    decoder: dict[str, nn.Module] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Dice per class of the segmentation network of ``encoder`` (and the pretrained
    ``decoder`` blocks, see :func:`segmentation_network`) trained on the train masks."""
    masks = data.masks
    classes = int(masks.max()) + 1
    splits = data.split_names()
    train = data.split_index("train")
    test = data.split_index("test") if "test" in splits else train
    torch.manual_seed(seed)
    net = segmentation_network(copy.deepcopy(encoder), classes, decoder)
    if isinstance(net, str):
        return {"skipped": net}
    train_segmentation(net, data.images[train], masks[train], classes, seed, steps, lr)
    dice = dice_per_class(net, data.images[test], masks[test], classes)
    out: dict[str, Any] = {f"dice_class_{c + 1}": float(d) for c, d in enumerate(dice)}
    out["dice"] = float(np.mean(dice))
    out["scored_on"] = "test" if "test" in splits else "train (no test split)"
    out["labelled_images"] = float(len(train))
    if decoder:
        out["pretrained_decoder_blocks"] = float(len(decoder))
    return out


def segmentation_task(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    if data.masks is None:
        return {"skipped": "the images have no masks (a manifest with a mask column)"}
    encoder = ctx.method.embedder()
    blocks = getattr(ctx.method, "decoder_blocks", None)
    decoder = blocks() if blocks is not None else None  # weights are copied, to the CPU
    pretrained = segment(encoder.cpu(), data, ctx.seed, decoder=decoder)
    if "skipped" in pretrained:
        return pretrained
    scratch = segment(fresh_encoder(ctx.method, ctx.seed), data, ctx.seed)
    out = dict(pretrained)
    out.update({f"scratch_{k}": v for k, v in scratch.items() if k != "scored_on"})
    return out
