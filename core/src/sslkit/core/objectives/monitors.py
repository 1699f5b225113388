"""Collapse monitors usable as metrics: RankMe, alignment, uniformity, embedding std."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["alignment", "embedding_std", "rankme", "uniformity"]


@torch.no_grad()
def rankme(z: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """RankMe (Garrido et al. 2023, "RankMe: Assessing the Downstream Performance of Pretrained
    Self-Supervised Representations by Their Rank"): ``exp(-sum_k p_k log p_k)`` with
    ``p_k = sigma_k / ||sigma||_1 + eps`` over the singular values of ``z`` ``(n, dim)``.
    Between 1 (collapsed) and ``min(n, dim)``. Computed in float64.

    The singular values are the square roots of the eigenvalues of the smaller Gram matrix
    (``z z^T`` or ``z^T z``): about 5x faster than ``svdvals`` on a 512 x 1024 batch, equal to
    1e-15 of the largest (what lets the training monitor run by default).
    """
    z = z.reshape(-1, z.shape[-1]).double()
    if not torch.isfinite(z).all():  # NaN data or a diverged run: no rank to measure
        return torch.tensor(float("nan"))
    gram = z @ z.T if z.shape[0] <= z.shape[1] else z.T @ z
    try:
        s = torch.linalg.eigvalsh(gram).clamp_min(0).sqrt()
    except torch.linalg.LinAlgError:  # eigh did not converge: the SVD's slower algorithm
        s = torch.linalg.svdvals(z)
    p = s / s.sum().clamp_min(1e-300) + eps
    return torch.exp(-(p * p.log()).sum()).float()


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Alignment (Wang & Isola 2020, "Understanding Contrastive Representation Learning through
    Alignment and Uniformity on the Hypersphere"): ``E ||f(x) - f(y)||_2^alpha`` over positive
    pairs, on L2-normalised embeddings. Lower is better."""
    a, b = F.normalize(z1.float(), dim=-1), F.normalize(z2.float(), dim=-1)
    return (a - b).norm(dim=-1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Uniformity (Wang & Isola 2020): ``log E_{i != j} exp(-t ||f(x_i) - f(x_j)||^2)`` on
    L2-normalised embeddings ``(n, dim)``. Lower is more uniform."""
    x = F.normalize(z.reshape(-1, z.shape[-1]).float(), dim=-1)
    return torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()


def embedding_std(z: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the per-dimension std of L2-normalised embeddings (SimSiam,
    Chen & He 2021): about ``1/sqrt(dim)`` when healthy, 0 when collapsed."""
    x = F.normalize(z.reshape(-1, z.shape[-1]).float(), dim=-1)
    if x.shape[0] < 2:  # undefined (NaN, as torch gives) without torch's degrees-of-freedom warning
        return x.new_full((), float("nan"))
    return x.std(dim=0).mean()
