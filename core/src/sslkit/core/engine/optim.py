"""Optimizers (AdamW, LARS, SGD) and the per-step learning-rate schedule.

The schedule is a pure function of the optimizer step (linear warmup, then cosine decay), so
its whole state is the step number saved in the checkpoint. Momentum and temperature
schedules live in the methods (``Method.on_train_step_end(step, total_steps)``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


def cosine_with_warmup(step: int, total: int, warmup: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate: linear warmup, then cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def scaled_lr(lr: float, global_batch: int, base_batch: int, rule: str) -> float:
    """``lr`` is given for ``base_batch``; scale it to ``global_batch`` (Goyal et al. 2017)."""
    if rule == "linear":
        return lr * global_batch / base_batch
    if rule == "sqrt":
        return lr * math.sqrt(global_batch / base_batch)
    return lr


@dataclass(frozen=True)
class LRPlan:
    """The learning rate of a run: the true global batch and the scaled peak rate."""

    base_lr: float
    lr: float
    rule: str
    base_batch: int
    per_device_batch: int
    devices_per_node: int
    nodes: int
    accumulate: int
    total_steps: int
    warmup_steps: int
    min_ratio: float

    @property
    def global_batch(self) -> int:
        return self.per_device_batch * self.devices_per_node * self.nodes * self.accumulate

    def at(self, step: int) -> float:
        return self.lr * cosine_with_warmup(
            step, self.total_steps, self.warmup_steps, self.min_ratio
        )

    def describe(self) -> str:
        batch = (
            f"global batch {self.global_batch} = {self.per_device_batch} per device x "
            f"{self.devices_per_node} device(s) x {self.nodes} node(s) x {self.accumulate} accumulation"
        )
        if self.rule == "none":
            return f"{batch}; lr {self.lr:g} (not scaled)"
        return f"{batch}; lr {self.base_lr:g} x {self.rule} scaling from base batch {self.base_batch} -> {self.lr:g}"

    def to_dict(self) -> dict:
        return {**asdict(self), "global_batch": self.global_batch}


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


def no_decay_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups of ``module``'s trainable parameters: ``weight_decay`` on weights,
    none on biases, norm weights (BatchNorm, LayerNorm, GroupNorm, RMSNorm, whatever their
    shape) and other 1-d parameters (tokens, scales). The engine's default; a method's
    ``param_groups`` can return it, or build on it."""
    norms = {
        id(p)
        for m in module.modules()
        if isinstance(m, _NORMS)
        for p in m.parameters(recurse=False)
    }
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        bias = name == "bias" or name.endswith(".bias")
        (no_decay if p.ndim <= 1 or bias or id(p) in norms else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def param_groups(method: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The groups of ``method.param_groups(weight_decay)``, checked (every trainable parameter
    once, no learning rate of their own, ``weight_decay`` filled in), or the default
    :func:`no_decay_groups`."""
    hook = getattr(method, "param_groups", None)
    custom = hook(weight_decay) if callable(hook) else None
    if custom is None:
        return no_decay_groups(method, weight_decay)
    who = type(method).__name__
    names = {id(p): n for n, p in method.named_parameters()}
    seen: set[int] = set()
    groups = []
    for i, group in enumerate(custom):
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{who}.param_groups(): group {i} is not a dict with 'params'")
        if "lr" in group:
            raise ValueError(
                f"{who}.param_groups(): group {i} sets 'lr'; every group follows the run's "
                "learning-rate schedule (train.lr)"
            )
        params = list(group["params"])
        for p in params:
            if id(p) not in names:
                raise ValueError(f"{who}.param_groups(): group {i} holds a tensor that is not "
                                 "a parameter of the method")  # fmt: skip
            if id(p) in seen:
                raise ValueError(
                    f"{who}.param_groups(): parameter {names[id(p)]!r} is in two groups"
                )
            seen.add(id(p))
        groups.append({**group, "params": params,
                       "weight_decay": group.get("weight_decay", weight_decay)})  # fmt: skip
    missing = [n for n, p in method.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise ValueError(
            f"{who}.param_groups() leaves out trainable parameters (they would not train): "
            + ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )  # fmt: skip
    return groups


def build_optimizer(method: nn.Module, name: str, lr: float, weight_decay: float):
    """AdamW, LARS or SGD over :func:`param_groups`: by default biases and norm parameters get
    no weight decay (and no LARS adaptation); a method's ``param_groups`` hook may say
    otherwise."""
    groups = param_groups(method, weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    if name == "lars":
        from sslkit.core.engine.lars import LARS

        return LARS(groups, lr=lr)
    return torch.optim.AdamW(groups, lr=lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
