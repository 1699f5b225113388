"""Shared helpers of the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

from sslkit.core.quiet import quiet

quiet()  # the benchmarks' output, like the CLI's, without the known third-party warnings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
SHARED_DATA = ROOT.parent / "shared" / "data"


def machine(packages: tuple[str, ...] = ("torch", "numpy"), device: str = "cpu") -> dict[str, Any]:
    """The machine's facts; with a CUDA ``device``, the GPU's name too."""
    versions = {}
    for name in packages:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        **({"gpu": _gpu_name(device)} if device.startswith("cuda") else {}),
    }


def _gpu_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(torch.device(device))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def write_result(name: str, payload: dict[str, Any]) -> Path:
    from sslkit.core.engine.rundir import atomic_write_text

    path = RESULTS / f"{name}.json"
    # atomic: a benchmark stopped mid-write keeps the seeds it wrote before
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def resumed(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The result file ``name`` as written so far (``{}`` without one), and the pretraining
    runs of its methods whose folders still hold checkpoints (a file records a run only once
    it ended), to reuse by method."""
    path = RESULTS / f"{name}.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    runs = {}
    for method, row in result.get("methods", {}).items():
        run = row.get("pretraining", {}).get("run")
        if run and Path(run, "checkpoints").is_dir():
            runs[method] = run
    return result, runs


def write_table(doc: str, marker: str, rows: list[list[str]], header: list[str]) -> None:
    """Replace the block between `<!-- marker -->` lines in docs/<doc> with a markdown table."""
    path = DOCS / doc
    table = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(r) + " |" for r in rows]
    )
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{table}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
