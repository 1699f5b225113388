"""Callbacks of the training loop (rank 0 only): progress, metrics, TensorBoard, collapse monitor.

A callback sees the run through :class:`Context` and each optimizer step as a ``record`` (a
dict with ``step``, ``epoch``, ``loss``, ``lr``, ``time`` and the method's logs). Callbacks run
in order, so a monitor can add its values to the record before the loggers write it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sslkit.core.engine.method import move_to
from sslkit.core.engine.rundir import RunDir, atomic_write_text


@dataclass
class Context:
    run: RunDir
    method: Any
    data: Any
    device: torch.device
    total_steps: int
    start_step: int
    global_batch: int
    log: Callable[[str], Any]
    stop_reason: str = ""
    """Set by a callback (early stopping) to end the run after this step, saying why."""


class Callback:
    def on_train_start(self, ctx: Context) -> None: ...

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None: ...

    def on_train_end(self, ctx: Context) -> None: ...


class Rate:
    """Samples per second and ETA from the steps and wall time since the (re)start."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.last = (0, self.t0)
        self.shown = self.t0  # when ``due`` last reported

    def start(self, ctx: Context) -> None:
        """Measure from the (re)start's first step, now."""
        self.last = (ctx.start_step, time.perf_counter())

    def window(self, step: int, global_batch: int) -> float:
        """Samples/s since the previous call."""
        now = time.perf_counter()
        prev_step, prev_t = self.last
        self.last = (step, now)
        return (step - prev_step) * global_batch / max(now - prev_t, 1e-9)

    def due(self, ctx: Context, step: int, seconds: float) -> float | None:
        """Samples/s since the previous report when one is due (``seconds`` since it, or the
        last step), else None: the throttle of the progress bar and the plain log."""
        if time.perf_counter() - self.shown < seconds and step < ctx.total_steps:
            return None
        self.shown = time.perf_counter()
        return self.window(step, ctx.global_batch)

    def eta(self, ctx: Context, step: int) -> float:
        done = step - ctx.start_step
        return (time.perf_counter() - self.t0) / max(done, 1) * (ctx.total_steps - step)


def _fmt_eta(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar(Callback):
    """A rich progress bar (loss, samples/s, ETA), redrawn at most ``hz`` times a second."""

    def __init__(self, hz: float = 4.0, console: Any = None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.every = 1.0 / hz
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:,.0f} samples/s"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            refresh_per_second=hz,
        )
        self.rate = Rate()
        self.rate.shown = 0.0  # the first step is drawn

    def on_train_start(self, ctx: Context) -> None:
        self.rate.start(ctx)
        self.task = self.progress.add_task(
            "train", total=ctx.total_steps, completed=ctx.start_step, loss=float("nan"), rate=0.0
        )
        self.progress.start()

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        rate = self.rate.due(ctx, record["step"], self.every)
        if rate is None:
            return
        self.progress.update(self.task, completed=record["step"], loss=record["loss"], rate=rate)

    def on_train_end(self, ctx: Context) -> None:
        self.progress.stop()


class PlainLog(Callback):
    """Without a terminal (CI, nohup): one line every ``seconds`` and at the last step."""

    def __init__(self, seconds: float = 30.0):
        self.seconds = seconds
        self.rate = Rate()

    def on_train_start(self, ctx: Context) -> None:
        self.rate.start(ctx)

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        rate = self.rate.due(ctx, record["step"], self.seconds)
        if rate is None:
            return
        ctx.log(
            f"step {record['step']}/{ctx.total_steps}  loss {record['loss']:.4f}  "
            f"lr {record['lr']:.3g}  {rate:,.0f} samples/s  "
            f"ETA {_fmt_eta(self.rate.eta(ctx, record['step']))}"
        )


class MetricsLog(Callback):
    """``metrics.jsonl``: one JSON line every ``every`` steps (and at the last step).

    On resume, lines after the checkpoint's step (written before a crash) are dropped first,
    so the file is one continuous history.
    """

    def __init__(self, every: int):
        self.every = max(1, every)
        self.rate = Rate()

    def on_train_start(self, ctx: Context) -> None:
        path = ctx.run.metrics
        if path.is_file():
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= ctx.start_step:
                        kept.append(line)
                except json.JSONDecodeError:
                    break  # a line cut by a crash: drop it and what follows
            atomic_write_text(path, "".join(f"{line}\n" for line in kept))
        self.fh = path.open("a", encoding="utf-8")
        self.rate.start(ctx)

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        if (
            record["step"] % self.every
            and record["step"] < ctx.total_steps
            and "stop" not in record
        ):
            return
        out = {**record, "samples_per_s": self.rate.window(record["step"], ctx.global_batch)}
        self.fh.write(json.dumps(out) + "\n")
        self.fh.flush()

    def on_train_end(self, ctx: Context) -> None:
        self.fh.close()


class TensorBoardLog(Callback):
    """Scalars to ``<run>/tensorboard`` (only when ``tensorboard`` is installed)."""

    def __init__(self, every: int):
        self.every = max(1, every)

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("tensorboard") is not None

    def on_train_start(self, ctx: Context) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(
            str(ctx.run.path / "tensorboard"), purge_step=ctx.start_step + 1
        )

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        if record["step"] % self.every and record["step"] < ctx.total_steps:
            return
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, int | float):
                self.writer.add_scalar(f"train/{key}", value, record["step"])

    def on_train_end(self, ctx: Context) -> None:
        self.writer.close()


class CollapseMonitor(Callback):
    """RankMe (Garrido et al. 2023) and the std of normalised embeddings (SimSiam, Chen & He
    2021) of a held batch every ``every`` steps; a warning when either falls below ``drop``
    times its best value since training started (a sign of dimensional or complete collapse),
    or below ``drop_untrained`` times the untrained encoder's.

    The untrained encoder is held to a looser bar because a random network's embeddings have
    a high effective rank that says nothing of their quality, and SSL training often first
    lowers the rank and then raises it step by step (Simon et al. 2023, "On the stepwise
    nature of self-supervised learning"): VIME on Adult goes 63 -> 13 (step 63) -> 33.

    Runs in eval mode without gradients, on a forked RNG: training is not perturbed.
    """

    def __init__(self, every: int, rows: int, drop: float = 0.5, drop_untrained: float = 0.1):
        self.every, self.rows, self.drop, self.drop_untrained = every, rows, drop, drop_untrained
        self.best: dict[str, float] = {}
        self.untrained: dict[str, float] = {}
        self.warned: set[str] = set()
        self.held = None

    def on_train_start(self, ctx: Context) -> None:
        split = ctx.data.split_names()[0]
        self.held = move_to(next(iter(ctx.data.eval_batches(split, self.rows))).inputs, ctx.device)
        first = self.measure(ctx, ctx.start_step)
        if ctx.start_step == 0:  # a resumed run's weights are trained: they set the bar
            self.untrained, self.best = first, {}

    @torch.no_grad()
    def measure(self, ctx: Context, step: int) -> dict[str, float]:
        from sslkit.core.objectives.monitors import embedding_std, rankme

        method = ctx.method
        was_training = method.training
        devices = [ctx.device] if ctx.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            method.eval()
            try:
                z = method.embed(self.held).float()
            finally:
                method.train(was_training)
        values = {"rankme": float(rankme(z)), "embedding_std": float(embedding_std(z))}
        for key, value in values.items():
            best = self.best.get(key, 0.0)
            start = self.untrained.get(key, 0.0)
            low = value < self.drop * best or value < self.drop_untrained * start
            if low and key not in self.warned:
                self.warned.add(key)
                was = f"best {best:.4g}" if best else f"untrained {start:.4g}"
                ctx.log(
                    f"warning: {key} fell to {value:.4g} at step {step} ({was}): the "
                    "embeddings may be collapsing; check the views, lower train.lr or raise "
                    "the method's regularisation"
                )
            elif not low:
                self.warned.discard(key)
            self.best[key] = max(best, value)
        return values

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        if record["step"] % self.every == 0:
            record.update(self.measure(ctx, record["step"]))


class EarlyStop(Callback):
    """Stops the run when a self-supervised validation signal has not improved for
    ``patience`` checks (one every ``every`` steps): ``val_loss``, the method's own loss on
    fixed held-out batches (lower is better), or ``rankme``, read from the record the
    :class:`CollapseMonitor` filled (higher is better). Sets ``ctx.stop_reason`` and the
    record's ``stop``; the loop ends at this step (on every rank).

    The validation loss is ``method.training_step(batch, step)`` in train mode (the loss the
    run optimises), without gradients, on an RNG forked and seeded the same at every check (the
    same masks and views each time); the method's buffers (BatchNorm statistics, queues,
    centres) are restored afterwards, so training is not perturbed.
    """

    def __init__(self, signal: str, every: int, patience: int, min_delta: float = 0.0,
                 batches: list[Any] | None = None, precision: str = "fp32",
                 seed: int = 0):  # fmt: skip
        self.signal, self.every, self.patience, self.min_delta = signal, every, patience, min_delta
        self.batches, self.precision, self.seed = batches or [], precision, seed
        self.best: float | None = None
        self.best_step = 0
        self.bad = 0

    def on_train_start(self, ctx: Context) -> None:
        self.batches = [move_to(b, ctx.device) for b in self.batches]
        if self.signal == "val_loss":
            self.update(ctx, self.val_loss(ctx, ctx.start_step), ctx.start_step)

    @torch.no_grad()
    def val_loss(self, ctx: Context, step: int) -> float:
        from sslkit.core.distributed import replicated
        from sslkit.core.engine.device import autocast

        method = ctx.method
        saved = {name: b.detach().clone() for name, b in method.named_buffers()}
        devices = [ctx.device] if ctx.device.type == "cuda" else []
        was_training = method.training
        losses = []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            method.train()
            try:
                # rank 0 alone: objectives must not gather from ranks that are not here
                with autocast(ctx.device, self.precision), replicated():
                    for batch in self.batches:
                        out = method.training_step(batch, step)
                        loss = out if isinstance(out, torch.Tensor) else out["loss"]
                        losses.append(float(loss.detach().float()))
            finally:
                method.train(was_training)
                live = dict(method.named_buffers())
                for name, value in saved.items():
                    live[name].copy_(value)
        return sum(losses) / max(1, len(losses))

    def update(self, ctx: Context, value: float, step: int) -> bool:
        """Take one check's value; True when the run should stop."""
        sign = 1.0 if self.signal == "val_loss" else -1.0  # lower loss, higher RankMe
        margin = self.min_delta * abs(self.best) if self.best is not None else 0.0
        if self.best is None or sign * (value - self.best) < -margin:
            self.best, self.best_step, self.bad = value, step, 0
            return False
        self.bad += 1
        if self.bad < self.patience:
            return False
        ctx.stop_reason = (
            f"early stop: {self.signal} did not improve for {self.patience} checks "
            f"({self.patience * self.every:,} steps); best {self.best:.4g} at step {self.best_step}"
        )
        return True

    def on_step_end(self, ctx: Context, record: dict[str, Any]) -> None:
        step = record["step"]
        if step % self.every or ctx.stop_reason:
            return
        if self.signal == "val_loss":
            record["val_loss"] = value = self.val_loss(ctx, step)
        elif "rankme" in record:
            value = record["rankme"]
        else:
            return
        if self.update(ctx, value, step):
            record["stop"] = ctx.stop_reason


def default_callbacks(tc: Any, *, has_eval: bool, monitor_every: int | None = None,
                      held: list[Any] | None = None) -> list[Callback]:  # fmt: skip
    """The callbacks a run gets from its ``[train]`` options (call on rank 0 only).

    ``monitor_every``: the monitor's interval resolved from the budget (default
    ``tc.monitor_every``); ``held``: the held-out batches of ``early_stop = "val_loss"``."""
    out: list[Callback] = []
    every = tc.monitor_every if monitor_every is None else monitor_every
    if every > 0 and has_eval:
        out.append(CollapseMonitor(every, tc.monitor_batch))
    early = getattr(tc, "early_stop", "off")
    if early != "off" and every > 0:
        out.append(EarlyStop(early, every, tc.patience, tc.min_delta, held, tc.precision,
                             tc.seed))  # fmt: skip
    out.append(MetricsLog(tc.log_every))
    if tc.tensorboard and TensorBoardLog.available():
        out.append(TensorBoardLog(tc.log_every))
    if not tc.quiet:
        if tc.progress and sys.stderr.isatty():
            out.append(ProgressBar())
        else:
            out.append(PlainLog())
    return out
