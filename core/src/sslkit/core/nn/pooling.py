"""Pooling of token sequences ``(batch, tokens, dim)`` with an optional padding mask."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AttentionPool", "LayerWeightedSum", "masked_max", "masked_mean"]


def masked_mean(x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over tokens where ``valid`` (batch, tokens) is True (all if None)."""
    if valid is None:
        return x.mean(1)
    w = valid.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1)


def masked_max(x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Max over tokens where ``valid`` is True."""
    if valid is None:
        return x.amax(1)
    return x.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(1)


class AttentionPool(nn.Module):
    """Learned-query attention pooling (one query, ``num_heads`` heads)."""

    def __init__(self, dim: int, num_heads: int = 1):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        q = self.query.expand(x.shape[0], -1, -1)
        out, _ = self.attn(q, x, x, key_padding_mask=None if valid is None else ~valid)
        return out[:, 0]


class LayerWeightedSum(nn.Module):
    """Softmax-weighted sum of hidden layers (SUPERB protocol, Yang et al. 2021):
    ``(layers, batch, tokens, dim)`` or a list of layers -> ``(batch, tokens, dim)``."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, layers) -> torch.Tensor:
        x = torch.stack(list(layers)) if not isinstance(layers, torch.Tensor) else layers
        w = torch.softmax(self.weights, 0).to(x.dtype)
        return torch.einsum("l,l...->...", w, x)
