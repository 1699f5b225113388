"""The training loop: a plain PyTorch loop over a :class:`Method` and a :class:`DomainData`."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from sslkit.core.config import RunConfig
from sslkit.core.data import DomainData
from sslkit.core.engine.checkpoint import save_checkpoint
from sslkit.core.engine.device import autocast, select_device
from sslkit.core.engine.method import Method, move_to
from sslkit.core.engine.rundir import RunDir
from sslkit.core.errors import SSLKitError


class NonFiniteLossError(SSLKitError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cosine_with_warmup(step: int, total: int, warmup: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate: linear warmup, then cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def scaled_lr(lr: float, global_batch: int, base_batch: int, rule: str) -> float:
    if rule == "linear":
        return lr * global_batch / base_batch
    if rule == "sqrt":
        return lr * math.sqrt(global_batch / base_batch)
    return lr


def build_optimizer(
    method: Method, name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for pname, p in method.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or pname.endswith(".bias") else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    if name == "lars":
        from sslkit.core.engine.lars import LARS

        return LARS(groups, lr=lr)
    return torch.optim.AdamW(groups, lr=lr)


def _loader(data: DomainData, batch_size: int, cfg: RunConfig, device: torch.device):
    dataset = data.train_dataset()
    if data.full_batch:
        return None, dataset
    generator = torch.Generator().manual_seed(cfg.train.seed)
    streamed = isinstance(dataset, IterableDataset)
    n = None if streamed else len(dataset)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=not streamed,
        drop_last=bool(n and n > batch_size),
        collate_fn=data.collate,
        num_workers=cfg.train.num_workers,
        pin_memory=device.type == "cuda",
        generator=None if streamed else generator,
        persistent_workers=cfg.train.num_workers > 0,
    )
    return loader, dataset


def _loss_and_logs(out: Any) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(out, torch.Tensor):
        return out, {}
    loss = out["loss"]
    logs = {
        k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
        for k, v in out.items()
        if k != "loss"
    }
    return loss, logs


def fit(method: Method, data: DomainData, cfg: RunConfig, run: RunDir, *, log=print) -> FitResult:
    """Train ``method`` on ``data`` with ``cfg.train``; checkpoints and metrics go to ``run``."""
    tc = cfg.train
    seed_everything(tc.seed)
    device = select_device(tc.device)
    method.to(device)
    loader, dataset = _loader(data, tc.batch_size, cfg, device)
    steps_per_epoch = (
        1
        if loader is None
        else (
            len(loader)
            if hasattr(loader, "__len__") and not isinstance(dataset, IterableDataset)
            else 0
        )
    )
    steps_per_epoch //= max(1, tc.accumulate) if steps_per_epoch > 1 else 1
    if tc.max_steps:
        total = (
            tc.max_steps if not steps_per_epoch else min(tc.max_steps, tc.epochs * steps_per_epoch)
        )
    elif steps_per_epoch:
        total = tc.epochs * steps_per_epoch
    else:
        raise SSLKitError("streamed data has no length: set train.max_steps")
    global_batch = tc.batch_size * tc.accumulate
    lr = scaled_lr(tc.lr, global_batch, tc.base_batch_size, tc.lr_scaling)
    optimizer = build_optimizer(method, tc.optimizer, lr, tc.weight_decay)
    warmup = int(tc.warmup_epochs * steps_per_epoch) if steps_per_epoch else 0
    for g in optimizer.param_groups:
        g["base_lr"] = lr

    result = FitResult(steps=0)
    start = time.perf_counter()
    metrics = run.metrics.open("a", encoding="utf-8")
    step, micro, epoch = 0, 0, 0
    try:
        method.train()
        while step < total:
            batches = [dataset] if loader is None else loader
            for batch in batches:
                batch = move_to(batch, device, non_blocking=device.type == "cuda")
                with autocast(device, tc.precision):
                    loss, logs = _loss_and_logs(method.training_step(batch))
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(
                        f"loss is {float(loss)} at step {step} (epoch {epoch}); lower train.lr, "
                        "set train.grad_clip, or check the input for NaN/inf values"
                    )
                (loss / tc.accumulate).backward()
                micro += 1
                result.samples += _batch_size(batch, tc.batch_size)
                if micro % tc.accumulate:
                    continue
                if tc.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(method.parameters(), tc.grad_clip)
                factor = cosine_with_warmup(step, total, warmup, tc.min_lr_ratio)
                for g in optimizer.param_groups:
                    g["lr"] = g["base_lr"] * factor
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                method.on_train_step_end(step, total)
                value = float(loss.detach())
                result.losses.append(value)
                step += 1
                if step % tc.log_every == 0 or step == total:
                    record = {
                        "step": step,
                        "epoch": epoch,
                        "loss": value,
                        "lr": optimizer.param_groups[0]["lr"],
                        **logs,
                    }
                    metrics.write(json.dumps(record) + "\n")
                    metrics.flush()
                if tc.checkpoint_every and step % tc.checkpoint_every == 0:
                    save_checkpoint(run, method, step=step, epoch=epoch)
                if step >= total:
                    break
            epoch += 1
            save_checkpoint(run, method, step=step, epoch=epoch)
    finally:
        metrics.close()
    result.steps = step
    result.seconds = time.perf_counter() - start
    if not tc.quiet:
        log(
            f"trained {step} steps in {result.seconds:.1f}s ({result.samples_per_second:.0f} samples/s), last loss {result.losses[-1]:.4f}"
        )
    return result


def _batch_size(batch: Any, default: int) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, dict):
        for v in batch.values():
            if isinstance(v, torch.Tensor) and v.ndim > 0:
                return v.shape[0]
    if isinstance(batch, list | tuple) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0].shape[0]
    return default
