"""How the CLI prints a task's metrics: one line, ``task: key=value ...``."""

from __future__ import annotations

from typing import Any


def metrics_line(name: str, metrics: dict[str, Any]) -> str:
    """``name: a=0.1234  n=5``; a skipped task prints why; non-numeric values are left out."""
    if "skipped" in metrics:
        return f"{name}: skipped: {metrics['skipped']}"
    shown = "  ".join(
        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "seconds"
    )
    return f"{name}: {shown}"
