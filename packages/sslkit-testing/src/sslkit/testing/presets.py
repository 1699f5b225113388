"""A named preset that stands for a benchmarked run: it must resolve to exactly the default
preset plus the overrides the benchmark ran with."""

from __future__ import annotations

from typing import Any


def check_preset_is_overrides(
    plugin: Any, method: str, preset: str, overrides: list[str]
) -> tuple[Any, Any]:
    """Assert that ``--preset preset`` of ``method`` resolves to the same ``train``, ``model``
    and ``data`` as the default with ``--set`` ``overrides``; return the preset's and the
    default's run configs for the caller's own checks."""
    from sslkit.core.config import build_run_config

    assert preset in plugin.preset_names(method), f"{method} has no preset {preset!r}"
    resolved = build_run_config(plugin, method, preset=preset)
    benchmarked = build_run_config(plugin, method, overrides=list(overrides))
    for part in ("train", "model", "data"):
        assert getattr(resolved, part) == getattr(benchmarked, part), part
    return resolved, build_run_config(plugin, method)
