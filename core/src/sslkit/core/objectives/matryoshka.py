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
    objective per size (for stateful losses such as queues, whose buffers have a fixed width).

    Called exactly as the wrapped objective: ``(view_a, view_b)`` or ``(z)``, ``(prediction,
    target)``, keywords such as ``labels=`` or ``step=`` passed through unchanged. It runs no
    collective itself: the wrapped objectives' ``group`` applies.
    """

    def __init__(
        self,
        objective: nn.Module | Callable | Sequence[nn.Module],
        dims: Sequence[int] = (),
        weights: Sequence[float] | None = None,
    ):
        super().__init__()
        if not dims:
            raise ValueError("Matryoshka needs at least one nested dimension")
        self.dims = tuple(sorted(int(d) for d in dims))
        if weights is not None and len(weights) != len(self.dims):
            raise ValueError("weights must have one entry per dim")
        self.weights = (
            tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(self.dims)
        )
        if isinstance(objective, (list, tuple, nn.ModuleList)):
            if len(objective) != len(self.dims):
                raise ValueError("give one objective per dim, or a single shared objective")
            self.objectives = nn.ModuleList(objective)
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

    def forward(self, *args, **kwargs) -> torch.Tensor:
        total = None
        for i, (d, w) in enumerate(zip(self.dims, self.weights)):
            obj = self.shared if self.shared is not None else self.objectives[i]
            a = [self._slice(x, d) for x in args]
            k = {key: self._slice(x, d) for key, x in kwargs.items()}
            loss = w * obj(*a, **k)
            total = loss if total is None else total + loss
        return total
