"""LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017), as used by SimCLR/BYOL.

Parameters with ``weight_decay == 0`` in their group (biases, norms) skip the trust ratio, as in
the BYOL and Barlow Twins recipes.
"""

from __future__ import annotations

import torch


class LARS(torch.optim.Optimizer):
    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        trust_coefficient: float = 0.001,
        eps: float = 1e-8,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                trust_coefficient=trust_coefficient,
                eps=eps,
                weight_decay=0.0,
            ),
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"] > 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                    p_norm, g_norm = torch.norm(p), torch.norm(grad)
                    trust = torch.where(
                        (p_norm > 0) & (g_norm > 0),
                        group["trust_coefficient"] * p_norm / (g_norm + group["eps"]),
                        torch.ones_like(p_norm),
                    )
                    grad = grad.mul(trust)
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = torch.clone(grad).detach()
                else:
                    buf.mul_(group["momentum"]).add_(grad)
                p.add_(buf, alpha=-group["lr"])
        return loss
