"""Speech on the Free Spoken Digit Dataset (../shared/data/speech/fsdd, 3,000 recordings, 6
speakers; test = takes 0-4, dev = takes 5-9, train = takes 10-49): digit and speaker accuracy
of every method's SUPERB head (softmax layer weights, mean pooling, linear maps, dev
selection) against the same head on the untrained encoder (same architecture, its initial
weights) and on mean-pooled MFCCs and log-mel filterbanks (the floors), speaker verification
EER on every pair of test utterances, mean and std over seeds, utterances/s of pretraining,
the CPU seconds of each run and the machine's load average while it ran.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice uv run python benchmarks/speech.py --seeds 0 1 2
    uv run python benchmarks/speech.py --data embedded --methods hubert --epochs 2 --tag quick

Writes benchmarks/results/speech[-tag].json after every run (one record per method and seed,
and the mean/std rows; a run already in that file is not run again unless ``--fresh``) and the
table of docs/speech.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, machine, write_result, write_table

FSDD = SHARED_DATA / "speech" / "fsdd" / "recordings"
METHODS = ("hubert", "bestrq", "data2vec", "dinosr", "speaker")
CONTROLS = ("untrained", "mfcc", "logmel")
"""Rows that do not depend on the method (one per seed, taken from the first method's run)."""


class LoadSampler:
    """The 1-minute load average, sampled every ``every`` seconds while a run lasts."""

    def __init__(self, every: float = 15.0):
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        return {"mean": round(statistics.fmean(self.samples), 2), "max": max(self.samples)}


def run_one(method: str, data: str, seed: int, epochs: int | None, extra: list[str], out: Path):
    """Pretrain and evaluate one run: its record (metrics, speed, CPU seconds, load, verdict)."""
    from sslkit.core import api

    overrides = [f"train.seed={seed}", "train.quiet=true", f"train.out={out}", *extra]
    overrides.append(f"train.name={method}-s{seed}")
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if data != "embedded":
        overrides.append(f"data.path={data}")
    w0, c0 = time.perf_counter(), time.process_time()
    with LoadSampler() as load:
        result = api.pretrain("speech", method=method, overrides=overrides, log=lambda *a: None)
    batch = result.config.train.batch_size
    return {
        "method": method,
        "seed": seed,
        "epochs": result.config.train.epochs,
        "steps": result.steps,
        "utterances": result.steps * batch,
        "pretrain_s": result.seconds,
        "utterances_per_s": result.steps * batch / result.seconds if result.seconds else None,
        "wall_s": time.perf_counter() - w0,
        "cpu_s": time.process_time() - c0,
        "load_average": load.summary(),
        "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, float)},
        "verdict": result.verdict,
    }


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(statistics.fmean(values)),
        "std": float(statistics.stdev(values)) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def aggregate(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Mean/std rows: one per method, then the untrained encoder and the floors (once per
    seed: the first method's run of that seed)."""
    per: dict[str, dict[str, list[float]]] = {}
    control_seeds: set[int] = set()
    for method in methods:
        for run in (r for r in runs if r["method"] == method):
            row = per.setdefault(method, {})
            for key in ("utterances_per_s", "pretrain_s", "wall_s", "cpu_s"):
                if run.get(key) is not None:
                    row.setdefault(key, []).append(run[key])
            row.setdefault("load_average", []).append(run["load_average"]["mean"])
            shared = run["seed"] not in control_seeds
            control_seeds.add(run["seed"])
            for key, value in run["metrics"].items():
                base, _, kind = key.rpartition("_")
                if kind in CONTROLS:
                    if shared:
                        per.setdefault(kind, {}).setdefault(base, []).append(value)
                else:
                    row.setdefault(key, []).append(value)
    order = [m for m in methods if m in per] + [c for c in CONTROLS if c in per]
    return {name: {k: summarise(v) for k, v in per[name].items()} for name in order}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(FSDD), help="a folder, a manifest or 'embedded'")
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: each preset's")
    ap.add_argument("--set", nargs="*", default=[], help="extra key=value overrides")
    ap.add_argument("--out", default="/tmp/sslkit-speech-bench")
    ap.add_argument("--tag", default="")
    ap.add_argument("--fresh", action="store_true", help="rerun the runs already recorded")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    if args.data != "embedded" and not Path(args.data).exists():
        sys.exit(f"{args.data} is missing: the full FSDD lives in ../shared/data/speech/fsdd")

    name = "speech" + (f"-{args.tag}" if args.tag else "")
    settings = {"data": args.data, "epochs": args.epochs, "overrides": args.set}
    runs: list[dict[str, Any]] = []
    previous = RESULTS / f"{name}.json"
    if previous.exists() and not args.fresh:
        old = json.loads(previous.read_text())
        if all(old.get(k) == v for k, v in settings.items()):
            runs = old.get("runs", [])
    # seed-major order: every method of seed 0 first, so a cut-short benchmark has whole seeds
    for seed in args.seeds:
        for method in args.methods:
            if any(r["method"] == method and r["seed"] == seed for r in runs):
                continue
            out = Path(args.out) / f"e{args.epochs}"
            run = run_one(method, args.data, seed, args.epochs, args.set, out)
            runs.append(run)
            shown = {k: round(v, 4) for k, v in run["metrics"].items() if "dev" not in k}
            print(
                f"{method} seed {seed}: {run['utterances_per_s']:.1f} utt/s, "
                f"{run['wall_s']:.0f} s wall, {run['cpu_s']:.0f} s CPU, "
                f"load {run['load_average']}",
                shown,
                flush=True,
            )
            rows = aggregate(runs, args.methods)
            payload = {
                **settings,
                "seeds": sorted({r["seed"] for r in runs}),
                "machine": machine(("torch", "numpy", "soundfile")),
                "results": rows,
                "runs": runs,
            }
            write_result(name, payload)
    if not runs:
        sys.exit("no run recorded")
    rows = aggregate(runs, args.methods)
    print(RESULTS / f"{name}.json")
    if not args.no_docs:
        write_table("speech.md", f"bench:{name}", table(rows), HEADER)


HEADER = [
    "features",
    "digit acc, test (dev)",
    "speaker acc, test (dev)",
    "SV EER",
    "utt/s",
    "CPU s per run",
    "seeds",
]

NAMES = {
    "untrained": "untrained encoder",
    "mfcc": "MFCC floor (39-d)",
    "logmel": "log-mel floor (80)",
}


def _fmt(row: dict[str, Any], key: str, digits: int = 3) -> str:
    if key not in row:
        return "-"
    s = row[key]
    if s["n"] > 1:
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
    return f"{s['mean']:.{digits}f}"


def _cell(row: dict[str, Any], kind: str) -> str:
    return f"{_fmt(row, f'{kind}_accuracy')} ({_fmt(row, f'{kind}_dev_accuracy')})"


def table(rows: dict[str, Any]) -> list[list[str]]:
    out = []
    for name, row in rows.items():
        seeds = max((s["n"] for s in row.values()), default=0)
        out.append(
            [
                NAMES.get(name, name),
                _cell(row, "label"),
                _cell(row, "speaker"),
                _fmt(row, "sv_eer"),
                _fmt(row, "utterances_per_s", 1),
                _fmt(row, "cpu_s", 0),
                str(seeds),
            ]
        )
    return out


if __name__ == "__main__":
    main()
