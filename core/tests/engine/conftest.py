"""Engine tests: helpers live in engine_testlib (on sys.path from here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_testlib import child_env


@pytest.fixture
def digits_entry_point(tmp_path: Path) -> dict[str, str]:
    """Environment for subprocesses in which the digits plugin is an installed entry point
    (a .dist-info folder on PYTHONPATH), so ``python -m sslkit.cli`` and torchrun find it."""
    site = tmp_path / "site"
    info = site / "sslkit_digits_test-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sslkit-digits-test\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[sslkit.plugins]\ndigits = sslkit.testing.digits:plugin\n"
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return child_env(PYTHONPATH=path)
