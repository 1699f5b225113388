"""Graph views of the recommenders: SGL's edge dropout (SimGCL's embedding noise is
:func:`sslkit.recsys.encoders.perturb`, applied inside the propagation)."""

from __future__ import annotations

import torch


def edge_dropout_graph(
    users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int, rate: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """SGL-ED (Wu et al. 2021, eq. 4): keep each training interaction with probability
    ``1 - rate`` and renormalise the bipartite adjacency of what is kept, ``D^-1/2 A D^-1/2``;
    CSR ``(crow, col, value)`` with users first. ``users``/``items``: unique training pairs."""
    keep = torch.rand(users.shape, generator=generator) >= rate
    u, i = users[keep], items[keep] + n_users
    n = n_users + n_items
    row = torch.cat([u, i])
    col = torch.cat([i, u])
    deg = torch.bincount(row, minlength=n).double()
    inv = torch.where(deg > 0, deg.clamp_min(1).rsqrt(), torch.zeros_like(deg))
    order = torch.argsort(row * n + col)
    row, col = row[order], col[order]
    crow = torch.zeros(n + 1, dtype=torch.long)
    crow[1:] = torch.cumsum(torch.bincount(row, minlength=n), 0)
    return crow, col, (inv[row] * inv[col]).float()
