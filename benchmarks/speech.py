"""Speech on the Free Spoken Digit Dataset (../shared/data/speech/fsdd, 3,000 recordings, 6
speakers; test = takes 0-4, dev = takes 5-9, train = takes 10-49): digit and speaker accuracy
of every method's SUPERB head (softmax layer weights, mean pooling, linear maps, dev
selection) against the same head on mean-pooled MFCCs and log-mel filterbanks (the floors) and
on the untrained encoder, speaker verification EER on every pair of test utterances, mean and
std over seeds, and utterances/s of pretraining.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice uv run python benchmarks/speech.py --seeds 0 1 2
    uv run python benchmarks/speech.py --data embedded --methods hubert --epochs 2 --tag quick

Writes benchmarks/results/speech[-tag].json and the table of docs/speech.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, machine, write_result, write_table

FSDD = SHARED_DATA / "speech" / "fsdd" / "recordings"
METHODS = ("hubert", "bestrq", "data2vec", "speaker")
METRICS = ("label_accuracy", "speaker_accuracy", "sv_eer")


def run_one(method: str, data: str, seed: int, epochs: int | None, extra: list[str], out: Path):
    """Pretrain and evaluate one run: (superb metrics, utterances/s of pretraining, verdict)."""
    from sslkit.core import api

    overrides = [f"train.seed={seed}", "train.quiet=true", f"train.out={out}", *extra]
    overrides.append(f"train.name={method}-s{seed}")
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if data != "embedded":
        overrides.append(f"data.path={data}")
    result = api.pretrain("speech", method=method, overrides=overrides, log=lambda *a: None)
    batch = result.config.train.batch_size
    speed = result.steps * batch / result.seconds if result.seconds else float("nan")
    return dict(result.metrics), speed, result.verdict


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(statistics.fmean(values)),
        "std": float(statistics.stdev(values)) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(FSDD), help="a folder, a manifest or 'embedded'")
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: each preset's")
    ap.add_argument("--set", nargs="*", default=[], help="extra key=value overrides")
    ap.add_argument("--out", default="/tmp/sslkit-speech-bench")
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    if args.data != "embedded" and not Path(args.data).exists():
        sys.exit(f"{args.data} is missing: the full FSDD lives in ../shared/data/speech/fsdd")

    rows: dict[str, Any] = {}
    floors: dict[str, dict[str, list[float]]] = {}
    verdicts: dict[str, list[str]] = {}
    for method in args.methods:
        per: dict[str, list[float]] = {}
        for seed in args.seeds:
            t0 = time.perf_counter()
            task, speed, verdict = run_one(
                method, args.data, seed, args.epochs, args.set, Path(args.out)
            )
            per.setdefault("wall_s", []).append(time.perf_counter() - t0)
            per.setdefault("utterances_per_s", []).append(speed)
            verdicts.setdefault(method, []).append(verdict)
            for key, value in task.items():
                if not isinstance(value, float):
                    continue
                floor = key.rsplit("_", 1)[-1]
                if floor in ("mfcc", "logmel"):
                    if method != args.methods[0]:
                        continue  # the floors do not depend on the method: once per seed
                    floors.setdefault(floor, {}).setdefault(key, []).append(value)
                else:
                    per.setdefault(key, []).append(value)
            shown = {k: round(v, 4) for k, v in task.items() if isinstance(v, float)}
            print(method, seed, f"{speed:.1f} utt/s", shown, flush=True)
        rows[method] = {k: summarise(v) for k, v in per.items()}
    for floor, values in floors.items():
        rows[floor] = {k.rsplit("_", 1)[0]: summarise(v) for k, v in values.items()}
    payload = {
        "data": args.data,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "overrides": args.set,
        "machine": machine(("torch", "numpy", "soundfile")),
        "results": rows,
        "verdicts": verdicts,
    }
    name = "speech" + (f"-{args.tag}" if args.tag else "")
    print(write_result(name, payload))
    if not args.no_docs:
        write_table("speech.md", f"bench:{name}", table(rows), HEADER)


HEADER = [
    "features",
    "digit acc, test (dev)",
    "speaker acc, test (dev)",
    "SV EER",
    "untrained: digit, speaker",
    "utt/s",
]


def _fmt(row: dict[str, Any], key: str) -> str:
    if key not in row:
        return "-"
    s = row[key]
    return f"{s['mean']:.3f} ± {s['std']:.3f}" if s["n"] > 1 else f"{s['mean']:.3f}"


def _cell(row: dict[str, Any], kind: str) -> str:
    return f"{_fmt(row, f'{kind}_accuracy')} ({_fmt(row, f'{kind}_dev_accuracy')})"


def table(rows: dict[str, Any]) -> list[list[str]]:
    out = []
    for name, row in rows.items():
        untrained = "-"
        if "label_accuracy_untrained" in row:
            untrained = f"{_fmt(row, 'label_accuracy_untrained')}, {_fmt(row, 'speaker_accuracy_untrained')}"
        name = {"mfcc": "MFCC floor (39-d)", "logmel": "log-mel floor (80)"}.get(name, name)
        out.append(
            [
                name,
                _cell(row, "label"),
                _cell(row, "speaker"),
                _fmt(row, "sv_eer"),
                untrained,
                _fmt(row, "utterances_per_s"),
            ]
        )
    return out


if __name__ == "__main__":
    main()
