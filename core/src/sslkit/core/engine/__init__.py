"""The training engine: ``Method`` interface, trainer, checkpoints, run folders, callbacks.

``fit(method, data, cfg, run)`` trains on one CPU core or many GPUs under ``torchrun``; see
docs/engine.md.
"""

from sslkit.core.engine.callbacks import Callback, Context
from sslkit.core.engine.method import Method
from sslkit.core.engine.optim import no_decay_groups
from sslkit.core.engine.signals import RunInterrupted
from sslkit.core.engine.trainer import FitResult, NonFiniteLossError, fit

__all__ = [
    "Callback",
    "Context",
    "FitResult",
    "Method",
    "NonFiniteLossError",
    "RunInterrupted",
    "fit",
    "no_decay_groups",
]
