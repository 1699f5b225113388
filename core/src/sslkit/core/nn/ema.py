"""Exponential-moving-average teacher (BYOL, DINO, data2vec, MoCo momentum encoder)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["EMATeacher", "cosine_momentum"]


def cosine_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    """BYOL's schedule (Grill et al. 2020): ``final - (final - base) (cos(pi k / K) + 1) / 2``."""
    if total_steps <= 0:
        return final
    k = min(max(step, 0), total_steps)
    return final - (final - base) * (math.cos(math.pi * k / total_steps) + 1) / 2


class EMATeacher(nn.Module):
    """A frozen copy of ``student`` updated as ``teacher = m teacher + (1 - m) student``.

    Parameters *and* floating-point buffers (BatchNorm running statistics) are averaged;
    integer buffers (``num_batches_tracked``) are copied. ``m`` follows the cosine schedule
    from ``base_momentum`` to ``final_momentum``; call ``update(step, total_steps)`` after each
    optimizer step. ``teacher(x)`` runs ``.module`` without gradients.
    """

    def __init__(
        self, student: nn.Module, base_momentum: float = 0.996, final_momentum: float = 1.0
    ):
        super().__init__()
        self.module = copy.deepcopy(student)
        self.module.requires_grad_(False)
        self.base_momentum = base_momentum
        self.final_momentum = final_momentum
        self.momentum = base_momentum
        # Not registered as a submodule: the student belongs to its owner.
        self.__dict__["student"] = student

    def momentum_at(self, step: int, total_steps: int) -> float:
        return cosine_momentum(step, total_steps, self.base_momentum, self.final_momentum)

    @torch.no_grad()
    def update(self, step: int, total_steps: int, student: nn.Module | None = None) -> float:
        """Average the student into the teacher; returns the momentum used."""
        student = student if student is not None else self.__dict__["student"]
        m = self.momentum_at(step, total_steps)
        self.momentum = m
        t_params = list(self.module.parameters())
        s_params = [p.detach() for p in student.parameters()]
        if t_params:
            torch._foreach_lerp_(
                t_params, [p.to(t.dtype) for p, t in zip(s_params, t_params)], 1 - m
            )
        for tb, sb in zip(self.module.buffers(), student.buffers()):
            if tb.dtype.is_floating_point:
                tb.lerp_(sb.detach().to(tb.dtype), 1 - m)
            else:
                tb.copy_(sb)
        return m

    @torch.no_grad()
    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
