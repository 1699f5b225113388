"""Augmentations of table rows: random feature masks and resampling from the features'
empirical marginals (SCARF's corruption, VIME's mask-and-resample)."""

from __future__ import annotations

import torch


def exact_mask(batch: int, features: int, k: int, device: torch.device) -> torch.Tensor:
    """Boolean ``(batch, features)`` with exactly ``k`` True per row, at random positions."""
    ranks = torch.rand(batch, features, device=device).argsort(dim=1).argsort(dim=1)
    return ranks < k


def resample_marginals(
    inputs: dict[str, torch.Tensor], mask: torch.Tensor, n_num: int
) -> dict[str, torch.Tensor]:
    """Replace feature ``j`` of row ``i`` where ``mask[i, j]`` by the value of feature ``j`` in a
    row drawn uniformly from the batch: a draw from that feature's empirical marginal (SCARF,
    VIME). Masked positions come first-numeric, then categorical, as in the batch dict."""
    b = mask.shape[0]
    out = dict(inputs)
    donors = torch.randint(0, b, mask.shape, device=mask.device)
    if "num" in inputs:
        num = inputs["num"]
        drawn = torch.gather(num, 0, donors[:, :n_num])
        out["num"] = torch.where(mask[:, :n_num], drawn, num)
    if "cat" in inputs:
        cat = inputs["cat"]
        drawn = torch.gather(cat, 0, donors[:, n_num:])
        out["cat"] = torch.where(mask[:, n_num:], drawn, cat)
    return out
