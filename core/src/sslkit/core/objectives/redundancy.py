"""Redundancy-reduction objectives: Barlow Twins, VICReg, W-MSE.

All batch statistics (means, variances, cross-correlation, covariance) are sums all-reduced
over the ranks of ``group`` (``distributed_kind = "reduce"``; None: the world), so the loss at
world size ``R`` is the loss of a single process on the global batch.

Calling convention: two ``(batch, dim)`` views ``loss(view_a, view_b)`` (lightly's order) or
one ``(batch, views, dim)`` tensor ``loss(z)``; both give the same loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective
from sslkit.core.objectives._kernel import upcast
from sslkit.core.objectives.contrastive import as_views

__all__ = ["WMSE", "BarlowTwins", "VICReg"]


def _count(n: int, device, group=None) -> int:
    if not D.is_distributed(group):
        return n  # no tensor: .item() on a GPU tensor would wait for the device every step
    return int(D.all_reduce_sum(torch.tensor(float(n), device=device), group).item())


def _views(
    view_a: torch.Tensor | Sequence[torch.Tensor], view_b: torch.Tensor | None, group=None
) -> tuple[torch.Tensor, int]:
    """The views as one upcast ``(batch, views, dim)`` tensor, and the global batch size."""
    z = upcast(as_views(view_a, view_b))
    return z, _count(z.shape[0], z.device, group)


def _global_mean(x: torch.Tensor, n: int, group=None) -> torch.Tensor:
    return D.all_reduce_sum(x.sum(0), group) / n


def _pairs(v: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(v) for j in range(i + 1, v)]


def _off_diagonal(c: torch.Tensor) -> torch.Tensor:
    n = c.shape[0]
    return c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class BarlowTwins(Collective, nn.Module):
    """Barlow Twins (Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via Redundancy
    Reduction"): ``sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2`` with ``C`` the
    cross-correlation of the batch-standardised embeddings of two views (biased variance,
    ``eps=1e-5`` as ``BatchNorm1d(affine=False)``), averaged over view pairs.

    ``forward(view_a, view_b=None)``: two ``(batch, dim)`` views, or ``view_a`` ``(batch,
    views >= 2, dim)`` alone.
    """

    distributed_kind = "reduce"

    def __init__(self, lambda_: float = 0.005, eps: float = 1e-5, group=None):
        super().__init__()
        self.lambda_ = lambda_
        self.eps = eps
        self.group = group

    def _standardize(self, x: torch.Tensor, n: int) -> torch.Tensor:
        mean = _global_mean(x, n, self.group)
        xc = x - mean
        var = D.all_reduce_sum((xc * xc).sum(0), self.group) / n
        return xc / torch.sqrt(var + self.eps)

    def forward(
        self, view_a: torch.Tensor | Sequence[torch.Tensor], view_b: torch.Tensor | None = None
    ) -> torch.Tensor:
        z, n = _views(view_a, view_b, self.group)
        v = z.shape[1]
        zs = [self._standardize(z[:, i], n) for i in range(v)]
        loss = z.new_zeros(())
        for i, j in _pairs(v):
            c = D.all_reduce_sum(zs[i].t() @ zs[j], self.group) / n
            on = (torch.diagonal(c) - 1).pow(2).sum()
            off = _off_diagonal(c).pow(2).sum()
            loss = loss + on + self.lambda_ * off
        return loss / len(_pairs(v))


class VICReg(Collective, nn.Module):
    """VICReg (Bardes et al. 2022, "VICReg: Variance-Invariance-Covariance Regularization for
    Self-Supervised Learning"): ``lambda * MSE(z_a, z_b) + mu * mean_v[ mean_d relu(1 -
    sqrt(Var z_v,d + eps)) ] + nu * sum_v [ sum_{i != j} Cov(z_v)_ij^2 / dim ]``, unbiased
    (co)variances over the global batch; averaged over view pairs for more than two views.
    Parameter names and defaults follow the paper (25, 25, 1, eps 1e-4) and lightly.

    ``forward(view_a, view_b=None)``: two ``(batch, dim)`` views, or ``view_a`` ``(batch,
    views >= 2, dim)`` alone.
    """

    distributed_kind = "reduce"

    def __init__(
        self,
        lambda_param: float = 25.0,
        mu_param: float = 25.0,
        nu_param: float = 1.0,
        eps: float = 1e-4,
        group=None,
    ):
        super().__init__()
        self.group = group
        self.lambda_param, self.mu_param, self.nu_param, self.eps = (
            lambda_param,
            mu_param,
            nu_param,
            eps,
        )

    def forward(
        self, view_a: torch.Tensor | Sequence[torch.Tensor], view_b: torch.Tensor | None = None
    ) -> torch.Tensor:
        g = self.group
        z, n = _views(view_a, view_b, g)
        _b, v, d = z.shape
        if n < 2:
            raise ValueError("VICReg needs a global batch of at least 2")
        var_terms, cov_terms = [], []
        for i in range(v):
            x = z[:, i]
            xc = x - _global_mean(x, n, g)
            cov = D.all_reduce_sum(xc.t() @ xc, g) / (n - 1)
            std = torch.sqrt(torch.diagonal(cov) + self.eps)
            var_terms.append(F.relu(1 - std).mean())
            cov_terms.append(_off_diagonal(cov).pow(2).sum() / d)
        loss = z.new_zeros(())
        for i, j in _pairs(v):
            inv = D.all_reduce_sum((z[:, i] - z[:, j]).pow(2).sum(), g) / (n * d)
            var = 0.5 * (var_terms[i] + var_terms[j])
            cov = cov_terms[i] + cov_terms[j]
            loss = loss + self.lambda_param * inv + self.mu_param * var + self.nu_param * cov
        return loss / len(_pairs(v))


class WMSE(Collective, nn.Module):
    """W-MSE (Ermolov et al. 2021, "Whitening for Self-Supervised Representation Learning"):
    each view is whitened over the (global) batch with the Cholesky factor of its covariance,
    ``w = (z - mu) L^{-T}``, ``Sigma = L L^T`` (shrunk by ``eps`` towards I), then
    ``2 - 2 cos(w_a, w_b)`` is averaged over rows and view pairs. This is the paper's
    ``w_iter=1`` with ``w_size`` = the global batch (sub-batch whitening is not used so that the
    loss is independent of the number of ranks).

    ``forward(view_a, view_b=None)``: two ``(batch, dim)`` views, or ``view_a`` ``(batch,
    views >= 2, dim)`` alone.
    """

    distributed_kind = "reduce"

    def __init__(self, eps: float = 0.0, group=None):
        super().__init__()
        self.eps = eps
        self.group = group

    def _whiten(self, x: torch.Tensor, n: int) -> torch.Tensor:
        xc = x - _global_mean(x, n, self.group)
        cov = D.all_reduce_sum(xc.t() @ xc, self.group) / (n - 1)
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        cov = (1 - self.eps) * cov + self.eps * eye
        inv_l = torch.linalg.solve_triangular(torch.linalg.cholesky(cov), eye, upper=False)
        return xc @ inv_l.t()

    def forward(
        self, view_a: torch.Tensor | Sequence[torch.Tensor], view_b: torch.Tensor | None = None
    ) -> torch.Tensor:
        z, n = _views(view_a, view_b, self.group)
        v = z.shape[1]
        w = [F.normalize(self._whiten(z[:, i], n), dim=-1) for i in range(v)]
        loss = z.new_zeros(())
        for i, j in _pairs(v):
            cos = D.all_reduce_sum((w[i] * w[j]).sum(), self.group) / n
            loss = loss + 2 - 2 * cos
        return loss / len(_pairs(v))
