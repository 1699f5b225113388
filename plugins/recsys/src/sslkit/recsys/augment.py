"""Views of the recommenders: SGL's edge dropout (SimGCL's embedding noise is
:func:`sslkit.recsys.encoders.perturb`, applied inside the propagation), and the two-tower
model's feature masking (Yao et al. 2021): the features' mutual information, correlated
feature masking groups and the two complementary views."""

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


def feature_mutual_information(tokens: list, rows: int | None = None, seed: int = 0):
    """``(F, F)`` mutual information between the features of a table, estimated over its rows
    (Yao et al. 2021, section 3.3: the pairwise MI that correlated feature masking groups
    features by). Each row contributes weight 1 spread over the pairs of its values of the
    two features (a multi-valued cell splits it); rows missing either feature contribute
    nothing. ``tokens``: ``(rows, length)`` int arrays, ``0`` = no value; at most ``rows``
    rows are used (a seeded sample)."""
    import numpy as np

    n = tokens[0].shape[0]
    pick = np.arange(n)
    if rows is not None and n > rows:
        pick = np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))
    mats = [np.asarray(t)[pick] for t in tokens]
    out = np.zeros((len(mats), len(mats)))
    for f, a in enumerate(mats):
        for g in range(f, len(mats)):
            b = mats[g]
            pa, pb = a[:, :, None], b[:, None, :]
            valid = (pa > 0) & (pb > 0)
            per_row = valid.sum((1, 2), keepdims=True)
            w = np.where(valid, 1.0 / np.maximum(per_row, 1), 0.0)
            wb = int(b.max()) + 1
            keys = np.broadcast_to(pa, valid.shape) * wb + np.broadcast_to(pb, valid.shape)
            keys, w = keys[valid], w[valid]
            if w.sum() == 0:
                continue
            joint_keys, inverse = np.unique(keys, return_inverse=True)
            p = np.bincount(inverse, weights=w) / w.sum()
            ka, kb = joint_keys // wb, joint_keys % wb
            p_a = np.bincount(ka, weights=p)[ka]
            p_b = np.bincount(kb, weights=p)[kb]
            out[f, g] = out[g, f] = float((p * np.log(p / (p_a * p_b))).sum())
    return out


def correlated_groups(mi) -> torch.Tensor:
    """``(F, F)`` 0/1: row ``s`` marks the features masked with seed feature ``s`` (Yao et al.
    2021, correlated feature masking): the seed and the ``F // 2 - 1`` features of highest
    mutual information with it, half of the features in all."""
    import numpy as np

    n = mi.shape[0]
    k = max(1, n // 2)
    groups = np.zeros((n, n), np.int64)
    for s in range(n):
        others = [g for g in np.argsort(-mi[s], kind="stable") if g != s]
        groups[s, [s, *others[: k - 1]]] = 1
    return torch.from_numpy(groups)


def masking_views(n: int, features: int, groups: torch.Tensor | None,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Two complementary ``(n, features)`` keep masks (1 = kept) for ``n`` items: with
    ``groups`` (CFM, :func:`correlated_groups`) a seed feature drawn per item and its group
    masked in the first view, the other features in the second; with ``groups=None`` (RFM)
    a random ``features // 2`` of the features masked in the first view, the rest in the
    second."""
    if groups is not None:
        seed = torch.randint(0, features, (n,), device=device)
        masked = groups.to(device)[seed]
    else:
        order = torch.rand(n, features, device=device).argsort(1)
        masked = (order < max(1, features // 2)).long()
    return 1 - masked, masked
