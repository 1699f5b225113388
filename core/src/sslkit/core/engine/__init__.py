"""The training engine: ``Method`` interface, trainer, checkpoints, run folders."""

from sslkit.core.engine.method import Method
from sslkit.core.engine.trainer import FitResult, fit

__all__ = ["FitResult", "Method", "fit"]
