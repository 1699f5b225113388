"""Load a script of the repository's ``benchmarks/`` folder as a module, for tests of its
table code (skipped where the checkout has no benchmarks: an installed plugin)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load_benchmark(test_file: str, name: str) -> ModuleType:
    """``benchmarks/<name>.py`` of the checkout holding ``test_file`` (searched upwards), with
    its folder on ``sys.path`` while it imports (for ``_common``); skips when there is none."""
    for folder in Path(test_file).resolve().parents:
        script = folder / "benchmarks" / f"{name}.py"
        if script.is_file():
            break
    else:
        pytest.skip(f"benchmarks/{name}.py is not in this checkout")
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(script.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    return module
