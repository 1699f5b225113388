"""Event-sequence augmentations (views), plain functions on padded batch dicts.

Random contiguous slices of each history (CoLES) and random windows (CPC, MEM). Randomness comes
from torch's global generator (seeded by the engine) unless ``generator`` is given.
"""

from __future__ import annotations

import torch


def sample_slices(
    batch: dict[str, torch.Tensor],
    count: int,
    min_len: int,
    max_len: int,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``count`` random contiguous slices of each sequence (CoLES' random slices).

    Each slice has a length drawn uniformly from ``[min_len, max_len]`` (capped at the
    sequence's length; a sequence not longer than ``min_len`` is used whole) and a start drawn
    uniformly among the positions where it fits. Returns the padded slices (B * count rows, in
    entity-major order) and each slice's entity index (B * count,).
    """
    cat, num, mask = batch["cats"], batch["nums"], batch["mask"]
    b, t = mask.shape
    dev = mask.device
    lengths = mask.sum(1).repeat_interleave(count)
    lo = lengths.clamp(max=min_len)
    hi = lengths.clamp(max=max_len)
    u = torch.rand(2, b * count, generator=generator).to(dev)
    size = lo + (u[0] * (hi - lo + 1).to(u.dtype)).long().clamp(max=hi - lo)
    start = (u[1] * (lengths - size + 1).to(u.dtype)).long().clamp(max=lengths - size)
    width = max(int(size.max().item()), 1)
    steps = torch.arange(width, device=dev)
    valid = steps.unsqueeze(0) < size.unsqueeze(1)
    pos = (start.unsqueeze(1) + steps).clamp(max=t - 1)
    rows = torch.arange(b, device=dev).repeat_interleave(count).unsqueeze(1)
    out = {
        "cats": cat[rows, pos] * valid.unsqueeze(-1),
        "nums": num[rows, pos] * valid.unsqueeze(-1),
        "mask": valid,
    }
    return out, rows.squeeze(1)


def crop(batch: dict[str, torch.Tensor], length: int) -> dict[str, torch.Tensor]:
    """A random window of at most ``length`` events of each sequence."""
    if batch["mask"].shape[1] <= length:
        return batch
    out, _ = sample_slices(batch, 1, length, length)
    return out
