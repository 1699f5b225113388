"""`sslkit --help` start-up time: median wall time of a fresh process (target <= 0.5 s).

Run: uv run python benchmarks/cli_startup.py
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import machine, median, write_result, write_table

REPEATS = 15


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sslkit.cli", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    cases = {
        "sslkit --help": ["--help"],
        "sslkit pretrain --help": ["pretrain", "--help"],
        "sslkit plugins": ["plugins"],
        "python -c pass (interpreter floor)": None,
    }
    results = {}
    for label, args in cases.items():
        times = []
        for _ in range(REPEATS):
            if args is None:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", "pass"], check=True)
                times.append(time.perf_counter() - start)
            else:
                times.append(wall(args))
        results[label] = {
            "median_s": median(times),
            "min_s": min(times),
            "max_s": max(times),
            "repeats": REPEATS,
        }
        print(f"{label:40s} median {median(times):.3f}s")
    write_result(
        "cli_startup",
        {"machine": machine(("typer", "click", "rich")), "results": results, "target_s": 0.5},
    )
    write_table(
        "cli.md",
        "cli-startup",
        [
            [k, f"{v['median_s']:.3f}", f"{v['min_s']:.3f}", f"{v['max_s']:.3f}"]
            for k, v in results.items()
        ],
        ["command", "median s", "min s", "max s"],
    )


if __name__ == "__main__":
    main()
