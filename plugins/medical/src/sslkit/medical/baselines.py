"""What a user gets without pretraining, as features: the raw voxels, average-pooled to 8 per
axis (512 numbers for a 3-D volume, 64 x channels for a picture), scored by core beside the
embeddings (``sslkit.core.evaluate.payoff``) with the same logistic probe. The other baseline
of the field, the same network trained from scratch with the labels, is the ``finetune`` task's
(:mod:`sslkit.medical.finetune`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings

SIDE = 8


def pooled_voxels(images: Any, side: int = SIDE) -> np.ndarray:
    import torch.nn.functional as F

    dims = images.dim() - 2
    pool = F.adaptive_avg_pool3d if dims == 3 else F.adaptive_avg_pool2d
    return pool(images.float(), side).flatten(1).numpy()


def raw_voxels(ctx: Any, split: str) -> Embeddings:
    """The split's images as pooled voxels, in the order of ``ctx.embeddings(split)``."""
    data = ctx.data
    emb = ctx.embeddings(split)
    return Embeddings(emb.ids, pooled_voxels(data.images[data.split_index(split)]), emb.y)
