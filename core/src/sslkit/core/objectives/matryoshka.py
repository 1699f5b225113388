"""Matryoshka representation learning wrapper."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["Matryoshka"]


class Matryoshka(nn.Module):
    """Matryoshka Representation Learning (Kusupati et al. 2022): apply ``objective`` to the
    nested prefixes ``z[..., :d]`` for each ``d`` in ``dims`` and return ``sum_d w_d L(z[..., :d])``
    (weights default to 1). Every floating tensor argument whose last dimension equals
    ``max(dims)`` is sliced; others (labels, masks, teacher outputs of another size) pass
    through. ``objective`` may be one module shared by all sizes, or a sequence with one
    objective per size (for stateful losses such as queues, whose buffers have a fixed width,
    or heads of each size's width; plain callables are kept as they are, modules registered).
    ``reduction="mean"`` returns the weighted mean ``sum_d w_d L_d / len(dims)`` instead (with
    the default weights exactly ``torch.stack([L_d]).mean()``). An objective may return a
    dict of named terms (``{"loss": ..., "mask": ...}``): each is combined the same way.

    Called exactly as the wrapped objective: ``(view_a, view_b)`` or ``(z)``, ``(prediction,
    target)``, keywords such as ``labels=`` or ``step=`` passed through unchanged. It runs no
    collective itself: the wrapped objectives' ``group`` applies.
    """

    def __init__(
        self,
        objective: nn.Module | Callable | Sequence[nn.Module],
        dims: Sequence[int] = (),
        weights: Sequence[float] | None = None,
        reduction: str = "sum",
    ):
        super().__init__()
        if not dims:
            raise ValueError("Matryoshka needs at least one nested dimension")
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        self.reduction = reduction
        self.uniform = weights is None
        self.dims = tuple(sorted(int(d) for d in dims))
        if weights is not None and len(weights) != len(self.dims):
            raise ValueError("weights must have one entry per dim")
        self.weights = (
            tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(self.dims)
        )
        if isinstance(objective, (list, tuple, nn.ModuleList)):
            if len(objective) != len(self.dims):
                raise ValueError("give one objective per dim, or a single shared objective")
            modules = all(isinstance(o, nn.Module) for o in objective)
            self.objectives = nn.ModuleList(objective) if modules else tuple(objective)
            self.shared = None
        else:
            self.objectives = None
            self.shared = objective

    @property
    def distributed_kind(self) -> str:
        obj = self.shared if self.shared is not None else self.objectives[0]
        return getattr(obj, "distributed_kind", "local")

    def _slice(self, x, d: int):
        full = self.dims[-1]
        if (
            isinstance(x, torch.Tensor)
            and x.is_floating_point()
            and x.dim() >= 1
            and x.shape[-1] == full
        ):
            return x[..., :d]
        if isinstance(x, (list, tuple)) and x and all(isinstance(t, torch.Tensor) for t in x):
            return type(x)(self._slice(t, d) for t in x)
        return x

    def forward(self, *args, **kwargs) -> torch.Tensor | dict[str, torch.Tensor]:
        losses = []
        for i, d in enumerate(self.dims):
            obj = self.shared if self.shared is not None else self.objectives[i]
            a = [self._slice(x, d) for x in args]
            k = {key: self._slice(x, d) for key, x in kwargs.items()}
            losses.append(obj(*a, **k))
        if isinstance(losses[0], dict):
            return {key: self._combine([loss[key] for loss in losses]) for key in losses[0]}
        return self._combine(losses)

    def _combine(self, losses: list[torch.Tensor]) -> torch.Tensor:
        if self.reduction == "mean" and self.uniform:
            return torch.stack([torch.as_tensor(x) for x in losses]).mean()
        total = None
        for loss, w in zip(losses, self.weights):
            loss = w * loss
            total = loss if total is None else total + loss
        return total / len(losses) if self.reduction == "mean" else total
