"""The training loop: a plain PyTorch loop over a :class:`Method` and a :class:`DomainData`.

One process or many under ``torchrun`` (DDP); the loop is :func:`fit`, everything around it
(data order, checkpoints, callbacks, signals, DDP) lives in its own module.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sslkit.core import distributed as D
from sslkit.core.config import RunConfig
from sslkit.core.data import DomainData
from sslkit.core.engine import ddp
from sslkit.core.engine.budget import Budget, budget_source, plan_budget
from sslkit.core.engine.callbacks import Callback, Context, default_callbacks
from sslkit.core.engine.checkpoint import Position, load_checkpoint, save_checkpoint
from sslkit.core.engine.device import autocast
from sslkit.core.engine.loader import TrainData
from sslkit.core.engine.method import Method, move_to
from sslkit.core.engine.optim import (  # noqa: F401 - cosine_with_warmup, scaled_lr re-exported
    LRPlan,
    build_optimizer,
    cosine_with_warmup,
    scaled_lr,
    set_lr,
)
from sslkit.core.engine.rundir import RunDir, follow_umask
from sslkit.core.engine.signals import RunInterrupted, StopSignals
from sslkit.core.engine.views import train_transform_of
from sslkit.core.errors import DataError, SSLKitError


class NonFiniteLossError(SSLKitError):
    """The loss became NaN or infinite; the weights were not updated with it."""


@dataclass
class FitResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    """Per-step losses of this session (from ``start_step + 1`` to ``steps``)."""
    seconds: float = 0.0
    samples: int = 0
    start_step: int = 0
    stop_reason: str = ""
    """Why training ended before its budget ("early stop: ..."); "" when it ran to the end."""
    budget: Budget | None = None

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fit(
    method: Method,
    data: DomainData,
    cfg: RunConfig,
    run: RunDir,
    *,
    log=print,
    callbacks: list[Callback] | None = None,
) -> FitResult:
    """Train ``method`` on ``data`` with ``cfg.train``; metrics and checkpoints go to ``run``.

    With ``cfg.train.resume`` it continues from the run's latest checkpoint (weights, optimizer,
    RNG and data order), reproducing the uninterrupted run's losses on CPU.
    """
    tc = cfg.train
    env, created = ddp.setup(tc.device)
    agreed = False
    try:
        seed_everything(tc.seed + env.rank)
        method.to(env.device)
        # views per example, in the DataLoader workers (full-batch data: none, see views.py)
        transform = None if getattr(data, "full_batch", False) else train_transform_of(method)
        holdout = tc.val_fraction if tc.early_stop == "val_loss" else 0.0
        train = TrainData(data, tc.batch_size, tc.accumulate, tc.seed, env, tc.num_workers,
                          transform, holdout=holdout)  # fmt: skip
        global_batch = tc.batch_size * env.world_size * tc.accumulate
        budget = plan_budget(tc, train.steps_per_epoch, rows=train.rows, global_batch=global_batch)
        total = budget.total
        has_eval = bool(data.split_names())
        _check_early_stop(tc, budget, has_eval)
        plan = LRPlan(
            tc.lr, scaled_lr(tc.lr, global_batch, tc.base_batch_size, tc.lr_scaling),
            tc.lr_scaling, tc.base_batch_size, tc.batch_size, env.local_world_size, env.nodes,
            tc.accumulate, total, budget.warmup_steps, tc.min_lr_ratio,
        )  # fmt: skip
        optimizer = build_optimizer(method, tc.optimizer, plan.lr, tc.weight_decay)
        step_fn = ddp.wrap(method, env, sync_batchnorm=tc.sync_batchnorm, compile=tc.compile,
                           find_unused=tc.find_unused_parameters
                           or method.find_unused_parameters)  # fmt: skip
        if tc.sync_batchnorm and env.distributed and not ddp.sync_batchnorm_applies(env):
            if env.is_main:
                log("warning: train.sync_batchnorm needs CUDA (torch's SyncBatchNorm); on "
                    f"{env.device.type} BatchNorm statistics stay per rank")  # fmt: skip
        restored = load_checkpoint(run.path, method, optimizer, env.device) if tc.resume else None
        pos = restored[0] if restored else Position()
        if env.is_main:
            run.write_json("engine.json", _engine_info(env, tc, plan, train, pos, budget))
            if not tc.quiet:
                log(budget.describe(_source(cfg)))
                log(plan.describe() + (f"; resuming at step {pos.step}" if pos.step else ""))
            for line in budget.warnings():  # even with quiet: the run may be wasted
                log(line)
        held = train.held_batches(transform, tc.monitor_batch) if env.is_main else []
        cbs = [] if not env.is_main else callbacks if callbacks is not None else (
            default_callbacks(tc, has_eval=has_eval, monitor_every=budget.monitor_every,
                              held=held))  # fmt: skip
        ctx = Context(run, method, data, env.device, total, pos.step, plan.global_batch, log)
        checks = budget.monitor_every if tc.early_stop != "off" else 0
        result = _loop(step_fn, method, optimizer, train, plan, pos, cbs, ctx, run, env, tc, checks)
        result.budget = budget
        agreed = True
        return result
    except (NonFiniteLossError, RunInterrupted):
        agreed = True  # every rank raises these at the same step, after ddp.agree
        raise
    finally:
        # DDP's reducer and the loader's sampler hold the process group: free them first, so
        # that the group ends here and not in a destructor at interpreter exit (which aborted
        # a rank now and then: "terminate called without an active exception")
        step_fn = train = None
        ddp.teardown(created, agreed)


def _loop(step_fn, method, optimizer, train, plan, pos, cbs, ctx, run, env, tc,
          checks: int = 0) -> FitResult:  # fmt: skip
    """The loop; ``checks``: early stopping's interval (rank 0 decides, every rank stops)."""
    result = FitResult(steps=pos.step, start_step=pos.step)
    start = last_save_time = time.perf_counter()
    # a full-graph data set is on every rank: its losses must not gather it from each rank
    replicated = D.replicated if train.full_batch and env.distributed else contextlib.nullcontext
    saved_at = pos.step if tc.resume else -1

    def save() -> None:
        nonlocal saved_at, last_save_time
        save_checkpoint(run, method, optimizer, pos, device=env.device, keep=tc.keep_checkpoints,
                        extra={"total_steps": ctx.total_steps, "lr_plan": plan.to_dict()})  # fmt: skip
        saved_at, last_save_time = pos.step, time.perf_counter()

    asks_stop = getattr(type(method), "stop_requested", Method.stop_requested) is not (
        Method.stop_requested
    )
    for cb in cbs:
        cb.on_train_start(ctx)
    try:
        with StopSignals() as signals:
            method.train()
            stopped = False
            if asks_stop and pos.step:  # resumed: a method that stopped before stays stopped
                asked = method.stop_requested()
                if ddp.agree([float(bool(asked))], env.device)[0] > 0:
                    ctx.stop_reason, stopped = asked or "stopped by the method", True
            while pos.step < ctx.total_steps and not stopped:
                micro: list[tuple[torch.Tensor, Any]] = []
                steps_before, resumed_within = pos.step, pos.batch_in_epoch > 0
                for batch in _agreed(
                    train.epoch(pos.epoch, pos.batch_in_epoch), train.streamed, env
                ):
                    batch = move_to(batch, env.device, non_blocking=env.device.type == "cuda")
                    pos.batch_in_epoch += 1
                    last = len(micro) + 1 == tc.accumulate
                    with contextlib.nullcontext() if last else ddp.no_sync(step_fn):
                        with autocast(env.device, tc.precision), replicated():
                            loss, logs = _loss_and_logs(step_fn(batch, pos.step))
                        (loss / tc.accumulate).backward()
                    micro.append((loss.detach(), batch))
                    if not last:
                        continue
                    values = torch.stack([m[0].float() for m in micro]).tolist()
                    due = tc.checkpoint_minutes > 0 and (
                        time.perf_counter() - last_save_time > 60 * tc.checkpoint_minutes)  # fmt: skip
                    bad, stop, due, loss_sum = ddp.agree(
                        [float(not all(map(math.isfinite, values))), float(signals.received is not None),
                         float(due), sum(values) / len(values)], env.device)  # fmt: skip
                    if bad:
                        raise _non_finite(pos, values, micro, run, env)
                    if tc.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(method.parameters(), tc.grad_clip)
                    set_lr(optimizer, lr := plan.at(pos.step))
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    method.on_train_step_end(pos.step, ctx.total_steps)
                    pos.step += 1
                    micro = []
                    record = {"step": pos.step, "epoch": pos.epoch, "loss": loss_sum / env.world_size,
                              "lr": lr, "time": time.perf_counter() - start, **logs}  # fmt: skip
                    result.losses.append(record["loss"])
                    for cb in cbs:
                        cb.on_step_end(ctx, record)
                    if checks and pos.step % checks == 0:  # the same steps on every rank
                        stopped = ddp.agree([float(bool(ctx.stop_reason))], env.device)[0] > 0
                    if asks_stop and not stopped:  # the method's own early stopping
                        asked = method.stop_requested()
                        if ddp.agree([float(bool(asked))], env.device)[0] > 0:
                            ctx.stop_reason = ctx.stop_reason or asked or "stopped by the method"
                            stopped = True
                    if stop or due or (tc.checkpoint_every and pos.step % tc.checkpoint_every == 0):
                        save()
                    if stop:
                        raise RunInterrupted(
                            f"stopped by {signals.name} at step {pos.step}/{ctx.total_steps}; the "
                            f"checkpoint is in {run.checkpoints}; continue with --resume",
                            signals.received or 15,
                        )
                    if pos.step >= ctx.total_steps or stopped:
                        break
                else:  # the epoch is complete
                    # (a run resumed at the very end of an epoch finds it empty: not an error)
                    if pos.step == steps_before and not resumed_within:
                        raise DataError("the training data gave no full batch in an epoch; "
                                        "lower train.batch_size or add data")  # fmt: skip
                    optimizer.zero_grad(set_to_none=True)  # a stream's leftover micro-batches
                    pos.epoch, pos.batch_in_epoch = pos.epoch + 1, 0
                    # a full-graph "epoch" is one step: checkpoint ~10 times a run, not every step
                    if not train.full_batch or pos.epoch % max(1, ctx.total_steps // 10) == 0:
                        save()
            if saved_at != pos.step:
                save()
    finally:
        for cb in cbs:
            cb.on_train_end(ctx)
    result.steps, result.seconds = pos.step, time.perf_counter() - start
    result.samples = (pos.step - result.start_step) * plan.global_batch
    result.stop_reason = ctx.stop_reason if pos.step < ctx.total_steps else ""
    _finish(method, result, ctx, env, tc)
    return result


def _finish(method, result: FitResult, ctx: Context, env: ddp.Env, tc) -> None:
    ddp.broadcast_buffers(method)
    drift = ddp.check_in_sync(method, env.device)
    if drift > 0 and env.is_main:
        ctx.log(f"warning: parameters differ between ranks after training (checksum {drift:.3g})")
    if env.is_main and not tc.quiet and result.losses:
        ctx.log(
            f"trained {result.steps - result.start_step} steps in {result.seconds:.1f}s "
            f"({result.samples_per_second:,.0f} samples/s), last loss {result.losses[-1]:.4f}"
            + (
                f"; {result.stop_reason} (planned {ctx.total_steps:,})"
                if result.stop_reason
                else ""
            )
        )


def _check_early_stop(tc, budget: Budget, has_eval: bool) -> None:
    from sslkit.core.errors import ConfigError

    if tc.early_stop == "off":
        return
    if budget.monitor_every == 0:
        raise ConfigError(
            f"train.early_stop = {tc.early_stop!r} checks every train.monitor_every steps, and "
            "train.monitor_every = 0 (off): set it to N > 0, or -1 (about 20 checks a run)"
        )
    if tc.early_stop == "rankme" and not has_eval:
        raise ConfigError(
            "train.early_stop = \"rankme\" needs the data's evaluation split (the monitor's held "
            'batch), and this data has none: use train.early_stop = "val_loss"'
        )


def _source(cfg: RunConfig) -> str:
    """Where the budget came from, for its log line."""
    if cfg.train.resume:
        return "the run's config.toml"
    source = budget_source(cfg)
    if source.startswith("preset"):
        try:
            from sslkit.core.plugin import get_plugin

            if "default" in get_plugin(cfg.domain).preset_names(cfg.method):
                return source
        except Exception:  # a domain that is no installed plugin (tests, benchmarks)
            pass
        return "defaults"
    return source


def _agreed(batches: Iterable[Any], streamed: bool, env: ddp.Env) -> Iterator[Any]:
    """Under torchrun, a stream ends on every rank as soon as it ends on one (else DDP hangs)."""
    if not (streamed and env.distributed):
        yield from batches
        return
    it = iter(batches)
    while True:
        batch = next(it, None)
        if ddp.agree([float(batch is not None)], env.device)[0] < env.world_size:
            return
        yield batch


def _loss_and_logs(out: Any) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(out, torch.Tensor):
        return out, {}
    logs = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
            for k, v in out.items() if k != "loss"}  # fmt: skip
    return out["loss"], logs


def _engine_info(env: ddp.Env, tc, plan: LRPlan, train: TrainData, pos: Position,
                 budget: Budget) -> dict:  # fmt: skip
    return {
        "device": str(env.device),
        "world_size": env.world_size,
        "nodes": env.nodes,
        "devices_per_node": env.local_world_size,
        "backend": (torch.distributed.get_backend() if env.distributed else None),
        "precision": tc.precision,
        "compile": tc.compile,
        "sync_batchnorm": tc.sync_batchnorm and ddp.sync_batchnorm_applies(env),
        "streamed": train.streamed,
        "steps_per_epoch": train.steps_per_epoch,
        "lr_plan": plan.to_dict(),
        "budget": budget.to_dict(),
        "started_at_step": pos.step,
    }


def _non_finite(pos: Position, values, micro, run: RunDir, env: ddp.Env) -> NonFiniteLossError:
    where = f"at step {pos.step + 1} (epoch {pos.epoch})"
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if not bad:
        return NonFiniteLossError(
            f"the loss became non-finite on another rank {where}; lower train.lr or set "
            "train.grad_clip; the weights were not updated with it"
        )
    i = bad[0]
    batch = micro[i][1]
    index = pos.batch_in_epoch - len(micro) + i
    tensors = _tensors(batch)
    broken_input = any(
        not torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()
    )
    shapes = ", ".join(f"{k} {tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}"
                       for k, t in list(tensors.items())[:4])  # fmt: skip
    hint = (
        "the batch itself holds NaN or inf values: clean the data or check its preprocessing"
        if broken_input
        else "lower train.lr, set train.grad_clip (e.g. 1.0), add train.warmup_epochs, "
        "or train with --precision fp32"
    )
    saved = ""
    if tensors and env.is_main:
        with contextlib.suppress(Exception):
            from safetensors.torch import save_file

            target = run.path / "nonfinite_batch.safetensors"
            save_file({k: t.detach().cpu().contiguous() for k, t in tensors.items()}, str(target))
            follow_umask(target)  # safetensors writes its files 0600
            saved = f"; the batch is saved in {target}"
    return NonFiniteLossError(
        f"loss is {values[i]} {where}, batch {index} of the epoch [{shapes}] on rank {env.rank}; "
        f"{hint}. The weights were not updated with it{saved}"
    )


def _tensors(batch: Any, prefix: str = "batch") -> dict[str, torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return {prefix: batch}
    items = batch.items() if isinstance(batch, dict) else (
        enumerate(batch) if isinstance(batch, list | tuple) else [])  # fmt: skip
    out: dict[str, torch.Tensor] = {}
    for k, v in items:
        out.update(_tensors(v, f"{prefix}.{k}"))
    return out
