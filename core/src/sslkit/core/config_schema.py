"""The run-configuration schema: :class:`TrainConfig` (``[train]``) and :class:`RunConfig`.

Re-exported by :mod:`sslkit.core.config`; import from there. No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from sslkit.core.errors import ConfigError

SECTIONS = ("data", "train", "method")


@dataclass
class TrainConfig:
    """Options of the training engine (``[train]``), the same for every domain."""

    epochs: int = 10
    """Passes over the training data (raised by ``min_steps``; unused when ``steps`` is set)."""
    steps: int = 0
    """Train this many optimizer steps whatever the data's size (0: ``epochs`` passes)."""
    min_steps: int = 0
    """At least this many optimizer steps: when ``epochs`` passes give fewer (small data), the
    run trains ``min_steps`` (0: no floor). An explicit ``--epochs`` without it drops a preset's."""
    warn_below_steps: int = 0
    """Warn when the planned steps are below this (besides ``min_steps``); set to a preset's
    floor when an explicit ``--epochs`` replaces its budget."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0: the whole budget); caps the budget."""
    batch_size: int = 256
    """Per-device batch size; the global batch is this x devices x accumulate."""
    lr: float = 1e-3
    """Learning rate for a global batch of ``base_batch_size``; scaled by ``lr_scaling``."""
    base_batch_size: int = 256
    lr_scaling: Literal["linear", "sqrt", "none"] = "none"
    optimizer: Literal["adamw", "lars", "sgd"] = "adamw"
    weight_decay: float = 0.05
    warmup_epochs: float = 0.0
    warmup_fraction: float = 0.0
    """Linear warmup over this fraction of the steps trained (0: ``warmup_epochs`` passes)."""
    min_lr_ratio: float = 0.0
    grad_clip: float = 0.0
    accumulate: int = 1
    device: str = "auto"
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """auto: bf16 autocast on CUDA, fp32 elsewhere."""
    compile: bool = False
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    """Write a checkpoint every N optimizer steps (0: at the end of each epoch only)."""
    monitor_every: int = -1
    """Compute RankMe and embedding std on a held batch every N steps (-1: about 20 times a
    run, from the budget; 0: off)."""
    sync_batchnorm: bool = False
    """Convert BatchNorm layers to SyncBatchNorm under torchrun (statistics over the global batch)."""
    quiet: bool = False
    out: str = "runs"
    name: str = ""
    """Run folder name under ``out`` (default: ``<domain>-<method>``)."""
    resume: bool = False
    progress: bool = True
    """Rich progress bar on rank 0 (only on a terminal; off with quiet)."""
    tensorboard: bool = True
    """Also write TensorBoard event files to <run>/tensorboard when tensorboard is installed."""
    keep_checkpoints: int = 2
    """How many of the latest checkpoints to keep (at least 1)."""
    checkpoint_minutes: float = 0.0
    """Also write a checkpoint when this many minutes have passed since the last one (0: off)."""
    monitor_batch: int = 512
    """Rows of the held batch the collapse monitor embeds."""
    find_unused_parameters: bool = False
    """DDP option for methods whose training_step leaves some trainable parameters unused."""
    early_stop: Literal["off", "val_loss", "rankme"] = "off"
    """Stop when a self-supervised validation signal stops improving, checked every
    ``monitor_every`` steps: ``val_loss`` (the method's loss on a held-out slice of the training
    data, ``val_fraction``) or ``rankme`` (RankMe of the monitor's held batch)."""
    patience: int = 5
    """Early stopping: checks without improvement before the run stops."""
    min_delta: float = 0.0
    """Early stopping: the least relative improvement that counts (0.01: 1%)."""
    val_fraction: float = 0.05
    """``early_stop = "val_loss"``: the fraction of the training examples held out (a fixed,
    seeded cut; they are not trained on)."""

    def __post_init__(self) -> None:
        for name, (low, high, strict_low) in _TRAIN_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue  # a wrong type is coerce's error, not a range error
            if value < low or (strict_low and value == low) or (high is not None and value > high):
                raise ConfigError(
                    f"train.{name} = {value!r} is out of range: it must be {_describe(low, high, strict_low)}"
                )


# (lowest, highest or None, lowest excluded) of TrainConfig's numeric fields
_TRAIN_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "epochs": (1, None, False),
    "steps": (0, None, False),
    "min_steps": (0, None, False),
    "warn_below_steps": (0, None, False),
    "max_steps": (0, None, False),
    "batch_size": (1, None, False),
    "lr": (0, None, True),
    "base_batch_size": (1, None, False),
    "weight_decay": (0, None, False),
    "warmup_epochs": (0, None, False),
    "warmup_fraction": (0, 1, False),
    "min_lr_ratio": (0, 1, False),
    "grad_clip": (0, None, False),
    "accumulate": (1, None, False),
    "num_workers": (0, None, False),
    "log_every": (0, None, False),
    "checkpoint_every": (0, None, False),
    "monitor_every": (-1, None, False),
    "keep_checkpoints": (1, None, False),
    "checkpoint_minutes": (0, None, False),
    "monitor_batch": (1, None, False),
    "patience": (1, None, False),
    "min_delta": (0, None, False),
    "val_fraction": (0, 0.5, True),
}


def _describe(low: float, high: float | None, strict_low: bool) -> str:
    if high is not None:
        return f"between {low} and {high}"
    return f"greater than {low}" if strict_low else f"at least {low}"


@dataclass
class RunConfig:
    domain: str
    method: str
    data: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Any = None
    """The method's config dataclass (the ``[method]`` section)."""
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """Keys (``train.lr``; ``run.method``) that --preset, --config, named options or --set gave a
    value, as opposed to defaults; ``--resume`` checks these against the run's saved config."""

    def section(self, name: str) -> Any:
        return {"data": self.data, "train": self.train, "method": self.model}[name]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"run": {"domain": self.domain, "method": self.method}}
        for name in SECTIONS:
            out[name] = _to_plain(dataclasses.asdict(self.section(name)))
        return out

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.to_dict()))


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}
