"""Training windows and padded batches of event sequences."""

from __future__ import annotations

from typing import Any

import numpy as np


def pad_batch(seqs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Right-padded tensors: ``cats`` (B, T, C) long, ``nums`` (B, T, F) float, ``mask`` (B, T)."""
    import torch

    lengths = [len(c) for c, _ in seqs]
    b, t = len(seqs), max(max(lengths, default=1), 1)
    c_dim = seqs[0][0].shape[1] if seqs else 0
    f_dim = seqs[0][1].shape[1] if seqs else 0
    cat = np.zeros((b, t, c_dim), np.int64)
    num = np.zeros((b, t, f_dim), np.float32)
    mask = np.zeros((b, t), bool)
    for i, (c, x) in enumerate(seqs):
        n = len(c)
        cat[i, :n], num[i, :n], mask[i, :n] = c, x, True
    return {
        "cats": torch.from_numpy(cat),
        "nums": torch.from_numpy(num),
        "mask": torch.from_numpy(mask),
    }


def train_window(n: int, max_len: int) -> tuple[int, int]:
    """A random window of at most ``max_len`` events (torch's RNG, so the engine's seed holds)."""
    if n <= max_len:
        return 0, n
    import torch

    start = int(torch.randint(0, n - max_len + 1, (1,)).item())
    return start, start + max_len
