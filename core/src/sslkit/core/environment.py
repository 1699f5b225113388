"""The machine and library versions a run was trained (or exported) with: ``environment.json``
and the model card's ``versions``."""

from __future__ import annotations

import platform
import sys
from typing import Any


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    import torch

    versions = {}
    for dist in ("sslkit-core", "sslkit-cli", "torch", "numpy", "pandas", "scikit-learn"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": versions,
        "cuda": torch.cuda.is_available(),
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu_threads": torch.get_num_threads(),
    }
