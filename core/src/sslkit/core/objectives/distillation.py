"""Teacher-student objectives: BYOL / SimSiam negative cosine, DINO.

Both take ``(prediction, target)``: the student's output first, the teacher's (treated as a
constant, stop-gradient) second. Schedules are the caller's: DINO's teacher temperature is a
function of the ``step=`` it is given (the optimizer step), never of how often it was called.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective
from sslkit.core.objectives._kernel import upcast
from sslkit.core.objectives.queue import rename_legacy_keys

__all__ = ["DINOLoss", "NegativeCosine"]


class NegativeCosine(nn.Module):
    """Negative cosine similarity with stop-gradient on the target: SimSiam (Chen & He 2021,
    "Exploring Simple Siamese Representation Learning"), ``-cos(p, sg(z))``; and BYOL (Grill et
    al. 2020, "Bootstrap Your Own Latent"), ``2 - 2 cos(p, sg(z))`` with ``byol=True``.

    ``forward(prediction, target)``, in that order: the predictor output ``p`` and the target
    ``z`` (stop-gradient), as ``(batch, dim)`` pairs (matched row by row, lightly's
    ``NegativeCosineSimilarity(x0, x1)``), or ``(batch, views, dim)`` each, where the
    prediction of each view is matched with the target of every *other* view (the symmetrised
    loss). Mean over terms. Local: DDP's gradient averaging is all it needs (no ``group``).
    """

    distributed_kind = "local"

    def __init__(self, byol: bool = False):
        super().__init__()
        self.byol = byol

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape or prediction.dim() not in (2, 3):
            raise ValueError(
                "NegativeCosine takes (prediction, target) of one shape, (batch, dim) or "
                f"(batch, views, dim), got {tuple(prediction.shape)} and {tuple(target.shape)}"
            )
        p, z = upcast(prediction), upcast(target.detach())
        if p.dim() == 2:
            cos = F.cosine_similarity(p, z, dim=-1).mean()
        else:
            v = p.shape[1]
            pn, zn = F.normalize(p, dim=-1), F.normalize(z, dim=-1)
            sim = torch.einsum("bvd,bwd->bvw", pn, zn)
            off = ~torch.eye(v, dtype=torch.bool, device=p.device)
            cos = (sim * off).sum() / (p.shape[0] * v * (v - 1))
        return 2 - 2 * cos if self.byol else -cos


class DINOLoss(Collective, nn.Module):
    """DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"):
    ``-sum_k softmax((t - c) / tau_t)_k log softmax(s / tau_s)_k`` over every (teacher view,
    student view) pair with different view index, averaged over pairs and rows. The center
    ``c`` is an EMA (``center_momentum``) of the global-batch teacher mean (all-reduced over
    ``group``), updated after each training-mode call; ``tau_t`` rises linearly from
    ``warmup_teacher_temp`` to ``teacher_temp`` over ``warmup_steps`` optimizer steps.

    ``forward(student, teacher, *, step=None)``, in the order ``(prediction, target)``: student
    logits ``(batch, Vs, K)`` and teacher logits ``(batch, Vt, K)``; the first ``Vt`` student
    views are the teacher's views (global crops), the rest local crops. ``step`` is the
    optimizer step (0-based; a ``Method`` passes the ``step`` of its
    ``training_step(batch, step)``), required while ``warmup_steps > 0``:
    the loss keeps no step counter, so under gradient accumulation every micro-batch of one
    optimizer step gets the same temperature. ``last_teacher_temp`` is the one last used.
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
        group=None,
    ):
        super().__init__()
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = (
            teacher_temp if warmup_teacher_temp is None else warmup_teacher_temp
        )
        self.warmup_steps = warmup_steps
        self.center_momentum = center_momentum
        self.group = group
        self.last_teacher_temp: float | None = None
        self.register_buffer("center", torch.zeros(out_dim))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before the step was the caller's hold a call counter: not state
        rename_legacy_keys(state_dict, prefix, {"step": None})
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def teacher_temp_at(self, step: int) -> float:
        """Teacher temperature at optimizer step ``step`` (linear warmup, then constant)."""
        if self.warmup_steps <= 0 or step >= self.warmup_steps:
            return self.teacher_temp
        f = max(step, 0) / self.warmup_steps
        return self.warmup_teacher_temp + f * (self.teacher_temp - self.warmup_teacher_temp)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, *, step: int | None = None):
        if step is None and self.warmup_steps > 0:
            raise ValueError(
                "DINOLoss with warmup_steps > 0 needs step= (the optimizer step, the step "
                "of Method.training_step(batch, step)); it does not count its own calls"
            )
        if student.dim() != 3 or teacher.dim() != 3:
            raise ValueError(
                "DINOLoss takes (student, teacher) logits (batch, views, K), got "
                f"{tuple(student.shape)} and {tuple(teacher.shape)}"
            )
        s, t = upcast(student), upcast(teacher.detach())
        b, vs, _ = s.shape
        vt = t.shape[1]
        tau_t = self.teacher_temp_at(self.warmup_steps if step is None else int(step))
        self.last_teacher_temp = tau_t
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
        out = D.globalize_loss(loss, b, self.group)
        if self.training:
            self.update_center(t)
        return out

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        """``c <- m c + (1 - m) mean(teacher)`` over the rows and views of the group's batch."""
        n = D.all_reduce_sum(
            torch.tensor(float(teacher.shape[0] * teacher.shape[1]), device=teacher.device),
            self.group,
        )
        batch_center = D.all_reduce_sum(teacher.sum(dim=(0, 1)), self.group) / n
        m = self.center_momentum
        self.center.mul_(m).add_(batch_center.to(self.center.dtype), alpha=1 - m)
