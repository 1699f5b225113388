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
    max_steps: int = 0
    """Stop after this many optimizer steps (0: run all epochs)."""
    batch_size: int = 256
    """Per-device batch size; the global batch is this x devices x accumulate."""
    lr: float = 1e-3
    """Learning rate for a global batch of ``base_batch_size``; scaled by ``lr_scaling``."""
    base_batch_size: int = 256
    lr_scaling: Literal["linear", "sqrt", "none"] = "none"
    optimizer: Literal["adamw", "lars", "sgd"] = "adamw"
    weight_decay: float = 0.05
    warmup_epochs: float = 0.0
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
    monitor_every: int = 0
    """Compute RankMe and embedding std on a held batch every N steps (0: off)."""
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
    "max_steps": (0, None, False),
    "batch_size": (1, None, False),
    "lr": (0, None, True),
    "base_batch_size": (1, None, False),
    "weight_decay": (0, None, False),
    "warmup_epochs": (0, None, False),
    "min_lr_ratio": (0, 1, False),
    "grad_clip": (0, None, False),
    "accumulate": (1, None, False),
    "num_workers": (0, None, False),
    "log_every": (0, None, False),
    "checkpoint_every": (0, None, False),
    "monitor_every": (0, None, False),
    "keep_checkpoints": (1, None, False),
    "checkpoint_minutes": (0, None, False),
    "monitor_batch": (1, None, False),
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
