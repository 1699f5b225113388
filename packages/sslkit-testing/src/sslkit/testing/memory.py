"""In-memory data through the Python API, for the plugins' ``from_memory`` tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["pretrain_in_memory"]


def pretrain_in_memory(
    domain: str,
    method: str | None,
    data: Any,
    out: str | Path,
    overrides: list[str],
    *,
    described: str,
    steps: int = 2,
) -> Any:
    """``api.pretrain(domain, method, data=data)`` with ``overrides``, quiet, into ``out``,
    without the default task; checks that it trained ``steps`` steps with finite losses and that
    the run's ``config.toml`` names the data ``described`` (the run keeps no copy of it).
    Returns the :class:`~sslkit.core.api.RunResult`."""
    from sslkit.core import api
    from sslkit.core.config import load_toml

    result = api.pretrain(
        domain,
        method,
        data=data,
        overrides=[*overrides, "train.quiet=true", f"train.out={out}"],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    assert result.steps == steps and np.isfinite(result.losses).all()
    assert load_toml(result.run_dir / "config.toml")["data"]["path"] == described
    return result
