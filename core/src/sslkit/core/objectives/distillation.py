"""Teacher-student objectives: BYOL / SimSiam negative cosine, DINO."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._kernel import upcast

__all__ = ["DINOLoss", "NegativeCosine"]


class NegativeCosine(nn.Module):
    """Negative cosine similarity with stop-gradient on the target: SimSiam (Chen & He 2021,
    "Exploring Simple Siamese Representation Learning"), ``-cos(p, sg(z))``; and BYOL (Grill et
    al. 2020, "Bootstrap Your Own Latent"), ``2 - 2 cos(p, sg(z))`` with ``byol=True``.

    ``forward(p, z)``: ``(batch, dim)`` pairs, or ``(batch, views, dim)`` where the prediction of
    each view is matched with the target of every *other* view (the symmetrised loss). Mean over
    terms. Local: DDP's gradient averaging is all it needs.
    """

    distributed_kind = "local"

    def __init__(self, byol: bool = False):
        super().__init__()
        self.byol = byol

    def forward(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        p, z = upcast(p), upcast(z.detach())
        if p.dim() == 2:
            cos = F.cosine_similarity(p, z, dim=-1).mean()
        else:
            v = p.shape[1]
            pn, zn = F.normalize(p, dim=-1), F.normalize(z, dim=-1)
            sim = torch.einsum("bvd,bwd->bvw", pn, zn)
            off = ~torch.eye(v, dtype=torch.bool, device=p.device)
            cos = (sim * off).sum() / (p.shape[0] * v * (v - 1))
        return 2 - 2 * cos if self.byol else -cos


class DINOLoss(nn.Module):
    """DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"):
    ``-sum_k softmax((t - c) / tau_t)_k log softmax(s / tau_s)_k`` over every (teacher view,
    student view) pair with different view index, averaged over pairs and rows. The center
    ``c`` is an EMA (``center_momentum``) of the global-batch teacher mean (all-reduced), updated
    after the loss; ``tau_t`` rises linearly from ``warmup_teacher_temp`` to ``teacher_temp``
    over ``warmup_steps`` optimizer steps (pass ``step``; without it the loss counts its own
    calls in training mode).

    ``forward(student, teacher, step=None)``: logits ``(batch, Vs, K)`` and ``(batch, Vt, K)``;
    the first ``Vt`` student views are the teacher's views (global crops), the rest local crops.
    """

    distributed_kind = "reduce"

    def __init__(
        self,
        out_dim: int,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        warmup_teacher_temp: float | None = None,
        warmup_steps: int = 0,
        center_momentum: float = 0.9,
    ):
        super().__init__()
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = (
            teacher_temp if warmup_teacher_temp is None else warmup_teacher_temp
        )
        self.warmup_steps = warmup_steps
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(out_dim))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def teacher_temp_at(self, step: int) -> float:
        if self.warmup_steps <= 0 or step >= self.warmup_steps:
            return self.teacher_temp
        f = step / self.warmup_steps
        return self.warmup_teacher_temp + f * (self.teacher_temp - self.warmup_teacher_temp)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, step: int | None = None):
        s, t = upcast(student), upcast(teacher.detach())
        b, vs, _ = s.shape
        vt = t.shape[1]
        step = int(self.step) if step is None else step
        tau_t = self.teacher_temp_at(step)
        with torch.autocast(s.device.type, enabled=False):
            pt = torch.softmax((t - self.center.to(t.dtype)) / tau_t, dim=-1)
            ls = torch.log_softmax(s / self.student_temp, dim=-1)
            ce = -torch.einsum("btk,bsk->ts", pt, ls)  # summed over the batch
            same = torch.zeros_like(ce, dtype=torch.bool)
            idx = torch.arange(min(vt, vs), device=ce.device)
            same[idx, idx] = True
            n_terms = ce.numel() - int(same.sum())
            if n_terms == 0:
                raise ValueError(
                    "DINOLoss needs at least one teacher/student pair of different views"
                )
            loss = ce.masked_fill(same, 0).sum() / (n_terms * b)
        out = D.globalize_loss(loss, b)
        if self.training:
            self.update_center(t)
            self.step += 1
        return out

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        n = D.all_reduce_sum(
            torch.tensor(float(teacher.shape[0] * teacher.shape[1]), device=teacher.device)
        )
        batch_center = D.all_reduce_sum(teacher.sum(dim=(0, 1))) / n
        m = self.center_momentum
        self.center.mul_(m).add_(batch_center.to(self.center.dtype), alpha=1 - m)
