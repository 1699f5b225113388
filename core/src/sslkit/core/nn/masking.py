"""Masks for token sequences ``(batch, tokens)`` and feature sets ``(batch, features)``.

All return boolean tensors, True = masked. Pass a ``torch.Generator`` for reproducibility.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "block_mask",
    "corrupt_features",
    "gather_tokens",
    "random_mask",
    "span_mask",
    "unmasked_indices",
]


def random_mask(batch: int, tokens: int, ratio: float, generator=None, device=None) -> torch.Tensor:
    """Exactly ``round(ratio * tokens)`` uniformly random masked tokens per row (MAE; also
    feature masks for sets and tabular rows, VIME/SCARF)."""
    n = round(ratio * tokens)
    noise = torch.rand(batch, tokens, generator=generator, device=device)
    idx = noise.argsort(dim=1)[:, :n]
    mask = torch.zeros(batch, tokens, dtype=torch.bool, device=device)
    return mask.scatter_(1, idx, True)


def span_mask(
    batch: int,
    tokens: int,
    mask_prob: float = 0.065,
    span: int = 10,
    min_spans: int = 1,
    generator=None,
    device=None,
) -> torch.Tensor:
    """wav2vec 2.0 / HuBERT spans: ``max(min_spans, round(mask_prob * tokens))`` distinct start
    frames per row, each masking the ``span`` following frames (spans may overlap, so about
    ``mask_prob * span`` of the frames are masked, 49% for the defaults)."""
    span = min(span, tokens)
    n_starts = max(min_spans, round(mask_prob * tokens))
    n_starts = min(n_starts, tokens - span + 1)
    noise = torch.rand(batch, tokens - span + 1, generator=generator, device=device)
    starts = noise.argsort(dim=1)[:, :n_starts]  # (B, n)
    pos = (starts[:, :, None] + torch.arange(span, device=device)).reshape(batch, -1)
    mask = torch.zeros(batch, tokens, dtype=torch.bool, device=device)
    return mask.scatter_(1, pos, True)


def block_mask(
    batch: int,
    grid: tuple[int, int] | int,
    num_blocks: int = 4,
    scale: tuple[float, float] = (0.15, 0.2),
    aspect: tuple[float, float] = (0.75, 1.5),
    generator=None,
    device=None,
) -> torch.Tensor:
    """Rectangular blocks on a ``(h, w)`` token grid, flattened to ``(batch, h * w)`` (I-JEPA
    target blocks, BEiT block-wise masking); a 1-D ``grid=T`` gives contiguous blocks of a
    sequence. Each block covers a ``scale`` fraction of the grid with the given aspect ratio."""
    h, w = (1, grid) if isinstance(grid, int) else grid
    mask = torch.zeros(batch, h, w, dtype=torch.bool, device=device)
    u = torch.rand(batch, num_blocks, 4, generator=generator)
    for b in range(batch):
        for k in range(num_blocks):
            s = scale[0] + (scale[1] - scale[0]) * float(u[b, k, 0])
            if h == 1:
                bh, bw = 1, max(1, min(w, round(s * w)))
            else:
                la, lb = math.log(aspect[0]), math.log(aspect[1])
                r = math.exp(la + (lb - la) * float(u[b, k, 1]))
                area = s * h * w
                bh = max(1, min(h, round(math.sqrt(area * r))))
                bw = max(1, min(w, round(math.sqrt(area / r))))
            top = int(float(u[b, k, 2]) * (h - bh + 1))
            left = int(float(u[b, k, 3]) * (w - bw + 1))
            mask[b, top : top + bh, left : left + bw] = True
    return mask.reshape(batch, h * w)


def unmasked_indices(mask: torch.Tensor) -> torch.Tensor:
    """Indices ``(batch, n_keep)`` of the unmasked tokens (every row must keep as many)."""
    keep = (~mask).sum(1)
    if not bool((keep == keep[0]).all()):
        raise ValueError("rows keep different numbers of tokens; use random_mask for MAE encoders")
    return (~mask).float().argsort(dim=1, descending=True, stable=True)[:, : int(keep[0])]


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[b, idx[b]]`` for ``x`` ``(batch, tokens, dim)``."""
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))


def corrupt_features(x: torch.Tensor, mask: torch.Tensor, generator=None) -> torch.Tensor:
    """Replace masked entries of ``(batch, features)`` by the same feature of a random other row
    (the marginal-sampling corruption of VIME, Yoon et al. 2020, and SCARF, Bahri et al. 2022)."""
    b = x.shape[0]
    rows = torch.randint(0, b, x.shape, generator=generator).to(x.device)
    return torch.where(mask, x.gather(0, rows), x)
