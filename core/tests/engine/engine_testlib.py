"""Helpers of the engine tests: run the CLI in a subprocess, read metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIGITS_CLI = HERE / "_digits_cli.py"

# a small, fast digits run whose steps use the RNG (noise and dropout views)
BASE = [
    "--set", "data.max_rows=600",
    "--batch-size", "64",
    "--set", "train.log_every=1",
    "--set", "train.lr=0.003",
    "--set", "train.warmup_epochs=1",
    "--set", "method.hidden_dim=64",
    "--quiet",
]  # fmt: skip


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def digits_cmd(out: Path, *args: str) -> list[str]:
    return [sys.executable, str(DIGITS_CLI), "pretrain", "digits", "--out", str(out), *BASE, *args]


def run_digits(
    out: Path, *args: str, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        digits_cmd(out, *args),
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def losses(run_dir: Path) -> dict[int, float]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        out[record["step"]] = record["loss"]
    return out


def steps_logged(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def run_in_process(out: Path, *args: str) -> int:
    """The same command as :func:`run_digits`, through ``sslkit.cli.main.run`` in this process
    (one torch thread, as in the subprocesses, so float results are bit-identical)."""
    import torch

    from sslkit.cli.main import run
    from sslkit.core.plugin import register, unregister
    from sslkit.testing.digits import plugin

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    register(plugin)
    try:
        return run(digits_cmd(out, *args)[2:])
    finally:
        unregister(plugin.name)
        torch.set_num_threads(threads)
