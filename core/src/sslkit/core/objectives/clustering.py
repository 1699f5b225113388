"""Clustering objectives: SwAV / SeLa prototypes with distributed Sinkhorn-Knopp."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective
from sslkit.core.objectives._kernel import upcast
from sslkit.core.objectives.contrastive import as_views

__all__ = ["SwAVLoss", "sinkhorn_knopp"]


@torch.no_grad()
def sinkhorn_knopp(
    scores: torch.Tensor, eps: float = 0.05, iters: int = 3, group=None
) -> torch.Tensor:
    """Equipartitioned soft assignments ``Q`` ``(batch, K)`` of the *global* batch to ``K``
    prototypes (Asano et al. 2020, "Self-labelling via simultaneous clustering and
    representation learning" (SeLa); Caron et al. 2020, SwAV, Algorithm 1): alternately
    normalise prototype totals to ``1/K`` (all-reduced over the ranks of ``group``; None: the
    world) and rows to ``1/B``; rows of the result sum to 1. Computed in float64 after
    subtracting the global max, so small ``eps`` cannot overflow.
    """
    s = scores.detach().double() / eps
    gmax = D.all_reduce_max(s.max(), group)
    q = torch.exp(s - gmax).t()  # K x B
    k = q.shape[0]
    b = D.all_reduce_sum(torch.tensor(float(q.shape[1]), dtype=q.dtype, device=q.device), group)
    q = q / D.all_reduce_sum(q.sum(), group)
    for _ in range(iters):
        q = q / D.all_reduce_sum(q.sum(dim=1, keepdim=True), group) / k
        q = q / q.sum(dim=0, keepdim=True) / b
    return (q * b).t().to(scores.dtype)


class SwAVLoss(Collective, nn.Module):
    """SwAV swapped prediction (Caron et al. 2020, "Unsupervised Learning of Visual Features by
    Contrasting Cluster Assignments"): codes ``q_v = SinkhornKnopp(scores_v)`` of the first
    ``n_assign`` views predict every other view:
    ``-mean_{v, w != v} sum_k q_v,k log softmax(scores_w / t)_k``.

    ``forward(view_a, view_b=None)``: the prototype scores (cosine similarities of the
    normalised embeddings to normalised prototypes) of two views, ``(batch, K)`` each, or of all
    views as one ``(batch, views, K)`` tensor, the ``n_assign`` high-resolution views first.
    Sinkhorn runs on the global batch of ``group``.
    """

    distributed_kind = "reduce"

    def __init__(
        self,
        temperature: float = 0.1,
        sinkhorn_eps: float = 0.05,
        sinkhorn_iters: int = 3,
        n_assign: int = 2,
        group=None,
    ):
        super().__init__()
        self.temperature = temperature
        self.sinkhorn_eps = sinkhorn_eps
        self.sinkhorn_iters = sinkhorn_iters
        self.n_assign = n_assign
        self.group = group

    def forward(self, view_a: torch.Tensor, view_b: torch.Tensor | None = None) -> torch.Tensor:
        scores = upcast(as_views(view_a, view_b))
        b, v, _ = scores.shape
        logp = torch.log_softmax(scores / self.temperature, dim=-1)
        total, terms = scores.new_zeros(()), 0
        for a in range(min(self.n_assign, v)):
            q = sinkhorn_knopp(scores[:, a], self.sinkhorn_eps, self.sinkhorn_iters, self.group)
            for w in range(v):
                if w != a:
                    total = total - (q * logp[:, w]).sum(-1).mean()
                    terms += 1
        return D.globalize_loss(total / terms, b, self.group)
