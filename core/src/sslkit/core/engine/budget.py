"""The training budget: how many optimizer steps a run trains, derived from its data.

A preset states its budget in passes over the data with a floor (``train.epochs`` and
``train.min_steps``: "5 passes, at least 315 steps") or in optimizer steps (``train.steps``),
not in a fixed number of epochs tuned to one embedded sample: a small data set then still
trains the steps the method needs, a large one trains its passes. :func:`plan_budget` is the
arithmetic (pure, no torch); the trainer logs :meth:`Budget.describe` and
:meth:`Budget.warnings` at the start of every run and records :meth:`Budget.to_dict` in
``engine.json``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sslkit.core.errors import DataError

MONITOR_POINTS = 20
"""``train.monitor_every = -1`` (the default) measures RankMe about this many times a run."""
MIN_PASSES = 1.0
"""A run planned to see each example fewer times than this (on average) gets a warning."""


@dataclass(frozen=True)
class Budget:
    """A run's planned optimizer steps and where they came from."""

    steps_per_epoch: int
    """Optimizer steps in one pass over the training data (0: a stream of unknown length)."""
    rows: int | None
    """Training examples in one pass (None: unknown, a stream; 1 for a whole-graph step)."""
    global_batch: int
    planned: int
    """Steps the budget rule gives, before ``train.max_steps``."""
    total: int
    """Steps the run trains: ``planned``, capped by ``train.max_steps``."""
    rule: str
    """``steps`` (train.steps), ``epochs`` (passes), ``min_steps`` (the floor raised the
    passes) or ``max_steps`` (a stream: train.max_steps alone)."""
    epochs: int
    """``train.epochs`` as configured."""
    min_steps: int
    steps: int
    max_steps: int
    warmup_steps: int
    monitor_every: int
    """Steps between RankMe measurements (0: off), ``train.monitor_every`` resolved."""
    floor: int
    """Warn below this many planned steps: ``max(train.min_steps, train.warn_below_steps)``."""

    @property
    def passes(self) -> float:
        """Passes over the data the run makes (``total / steps_per_epoch``; 0 for a stream)."""
        return self.total / self.steps_per_epoch if self.steps_per_epoch else 0.0

    @property
    def capped(self) -> bool:
        return self.total < self.planned

    def describe(self, source: str = "") -> str:
        """One line: ``budget: 5 passes x 63 steps = 315 steps (...)``."""
        spe = self.steps_per_epoch
        rows = f"{self.rows:,} rows, " if self.rows and self.rows > 1 else ""
        per = f"{rows}{spe:,} steps of {self.global_batch:,} per pass" if spe else "a stream"
        if self.rows == 1 and spe == 1:
            per = "one step is one pass over the whole graph"
        if self.rule == "steps":
            head = f"{self.planned:,} steps"
            why = f"train.steps {self.steps:,}"
        elif self.rule == "max_steps":
            head = f"{self.planned:,} steps"
            why = "train.max_steps on a stream of unknown length"
        else:
            passes = self.planned / spe
            shown = f"{passes:,.0f}" if passes == int(passes) else f"{passes:,.1f}"
            noun = "pass" if passes == 1 else "passes"
            head = f"{shown} {noun} x {spe:,} steps = {self.planned:,} steps"
            why = f"train.epochs {self.epochs}"
            if self.min_steps:
                why += f", at least train.min_steps {self.min_steps:,}"
            if self.rule == "min_steps":
                why += f": the floor raised {self.epochs} passes ({self.epochs * spe:,} steps)"
        if source:
            why += f"; {source}"
        line = f"budget: {head} ({why}); {per}"
        if self.capped:
            line += f"; capped at {self.total:,} by train.max_steps"
        if self.warmup_steps:
            line += f"; warmup {self.warmup_steps:,} step{'s' if self.warmup_steps > 1 else ''}"
        return line

    def warnings(self) -> list[str]:
        """Lines saying the planned budget is too small for the data, and how to raise it."""
        out = []
        if self.floor and self.planned < self.floor:
            out.append(
                f"warning: the run plans {self.planned:,} optimizer steps, fewer than the "
                f"{self.floor:,} this method's preset asks for; on this data that is too short "
                f"to learn much: raise it with --set train.min_steps={self.floor} "
                f"(or --epochs {math.ceil(self.floor / max(1, self.steps_per_epoch))})"
            )
        passes = self.planned / self.steps_per_epoch if self.steps_per_epoch else None
        if passes is not None and self.rows and self.rows > 1 and passes < MIN_PASSES:
            needed = math.ceil(MIN_PASSES * self.steps_per_epoch)
            out.append(
                f"warning: the run plans {self.planned:,} optimizer steps, {passes:.2f} passes "
                f"over the {self.rows:,} training examples: most examples are never seen; "
                f"raise it with --set train.steps={needed} (one pass)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passes": self.passes}


def plan_budget(tc: Any, steps_per_epoch: int, *, rows: int | None = None,
                global_batch: int = 0) -> Budget:  # fmt: skip
    """The budget of a run with ``[train]`` options ``tc`` on data of ``steps_per_epoch``
    optimizer steps per pass (0: a stream).

    - ``train.steps > 0``: that many steps;
    - else ``train.epochs`` passes, raised to ``train.min_steps`` when they give fewer steps;
    - a stream (no length) trains ``train.steps``, else ``train.max_steps``;
    - ``train.max_steps > 0`` caps the result.

    Warmup: ``train.warmup_fraction`` of the steps trained when set, else
    ``train.warmup_epochs`` passes. ``train.monitor_every = -1``: about ``MONITOR_POINTS``
    measurements over the run.
    """
    spe = int(steps_per_epoch)
    steps, min_steps = int(getattr(tc, "steps", 0)), int(getattr(tc, "min_steps", 0))
    if steps:
        planned, rule = steps, "steps"
    elif spe == 0:
        if not tc.max_steps:
            raise DataError(
                "streamed data has no length: set train.steps (--set train.steps=N) or "
                "train.max_steps (--max-steps N)"
            )
        planned, rule = tc.max_steps, "max_steps"
    elif min_steps > tc.epochs * spe:
        planned, rule = min_steps, "min_steps"
    else:
        planned, rule = tc.epochs * spe, "epochs"
    total = min(planned, tc.max_steps) if tc.max_steps else planned
    fraction = float(getattr(tc, "warmup_fraction", 0.0))
    warmup = round(fraction * total) if fraction > 0 else round(tc.warmup_epochs * spe)
    every = int(tc.monitor_every)
    if every < 0:
        every = max(1, total // MONITOR_POINTS)
    floor = max(min_steps, int(getattr(tc, "warn_below_steps", 0)))
    return Budget(
        steps_per_epoch=spe, rows=rows, global_batch=global_batch, planned=planned, total=total,
        rule=rule, epochs=tc.epochs, min_steps=min_steps, steps=steps, max_steps=tc.max_steps,
        warmup_steps=warmup, monitor_every=every, floor=floor,
    )  # fmt: skip


def budget_source(cfg: Any) -> str:
    """Where the budget's keys came from: ``preset tjepa/default`` when none of them was given
    (the method's default preset or the defaults), else the keys a user gave (a cap by
    ``train.max_steps`` is said apart)."""
    keys = ("train.epochs", "train.steps", "train.min_steps")
    given = [k for k in keys if k in getattr(cfg, "explicit", ())]
    if given:
        return "given: " + ", ".join(given)
    return f"preset {cfg.method}/default"
