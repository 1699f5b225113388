"""Events benchmark: quality of coles / mem / cpc embeddings against hand-crafted aggregates on
Online Retail (churn-style label), and CoLES training speed against pytorch-lifestream.

Quality: for each method and seed, ``sslkit pretrain events --method M --set train.seed=S``
(default presets, embedded Online Retail, only events before 2011-09-01), then the ``entity``
task: ROC-AUC on the test customers of a logistic probe and of HistGradientBoosting on the
frozen embeddings, and of the same two models on aggregates of the same events. Mean and std
over the seeds.

Speed: histories (sequences) per second of CoLES training, sslkit vs pytorch-lifestream, on the
same preprocessed events, GRU size, batch, slices and thread count, timed in alternating
rounds in the same run; reported as a ratio (median of rounds). pytorch-lifestream runs in its
own environment (``--ptls-python``, default /tmp/ptls-venv/bin/python):

    uv venv /tmp/ptls-venv && uv pip install --python /tmp/ptls-venv/bin/python pytorch-lifestream

Run: ``uv run python benchmarks/events.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/events.json`` and the results table in ``docs/events.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "events.json"
DOC = ROOT / "docs" / "events.md"
HELPER = ROOT / "benchmarks" / "lifestream" / "ptls_coles.py"
START, END = "<!-- results:start -->", "<!-- results:end -->"
KEYS = {
    "embeddings_logreg": "embeddings_logreg_roc_auc",
    "embeddings_hgb": "embeddings_hgb_roc_auc",
    "aggregates_logreg": "aggregates_logreg_roc_auc",
    "aggregates_hgb": "aggregates_hgb_roc_auc",
    "combined_hgb": "combined_hgb_roc_auc",
}


def limit_threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)


# ---------------------------------------------------------------------------------------------
# quality


def summarize(runs: dict[str, list[dict]]) -> dict:
    summary: dict = {}
    for method, rows in runs.items():
        summary[method] = {}
        for key in [*KEYS, "pretrain_seconds"]:
            vals = [r[key] for r in rows if isinstance(r.get(key), float | int)]
            if vals:
                summary[method][key] = {
                    "mean": statistics.fmean(vals),
                    "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                    "n": len(vals),
                }
    return summary


def quality(
    methods: list[str], seeds: list[int], extra: list[str], out: Path, save=lambda q: None
) -> dict:
    """Seed-major (every method at seed 0, then seed 1, ...); ``save`` gets the partial result
    after each run, so an interrupted benchmark still leaves what it measured."""
    from sslkit.core import api

    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in seeds:
        for method in methods:
            t0 = time.perf_counter()
            result = api.pretrain(
                "events",
                method,
                overrides=[
                    f"train.seed={seed}",
                    "train.quiet=true",
                    f"train.out={out}",
                    f"train.name={method}-{seed}",
                    *extra,
                ],
                log=lambda *_: None,
            )
            m = result.metrics
            row = {k: m.get(v) for k, v in KEYS.items()}
            row.update(
                seed=seed,
                pretrain_seconds=round(result.seconds, 1),
                steps=result.steps,
                total_seconds=round(time.perf_counter() - t0, 1),
            )
            runs[method].append(row)
            save({"runs": runs, "summary": summarize(runs), "complete": False})
            shown = ", ".join(f"{k}={row[k]:.4f}" for k in KEYS if isinstance(row.get(k), float))
            print(f"[quality] {method} seed {seed}: {shown}", flush=True)
    return {"runs": runs, "summary": summarize(runs)}


# ---------------------------------------------------------------------------------------------
# speed


def export_sequences(path: Path) -> object:
    import numpy as np

    from sslkit.events.configs import EventsData
    from sslkit.events.data import load_data

    data = load_data(EventsData())
    np.savez(
        path,
        cats=data.cats.astype(np.int64),
        nums=data.nums,
        offsets=data.chunk.offsets,
        cat_sizes=np.asarray(data.info["cat_sizes"]),
    )
    return data


def sslkit_speed(data, args) -> dict:
    import torch

    from sslkit.events.configs import CoLESConfig
    from sslkit.events.methods import coles

    limit_threads(args.threads)
    torch.manual_seed(0)
    cfg = CoLESConfig(hidden=args.hidden, split_count=args.split_count, slice_min=args.slice_min,
                      slice_max=args.slice_max, cat_dim=16, num_dim=16)  # fmt: skip
    model = coles.build(cfg, data)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    loader = torch.utils.data.DataLoader(
        data.train_dataset(), batch_size=args.batch, shuffle=True, collate_fn=data.collate
    )

    def batches():
        while True:
            yield from loader

    it = batches()
    seen, start = 0, 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            start = time.perf_counter()
        batch = next(it)
        loss = model.training_step(batch, step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= args.warmup:
            seen += batch["mask"].shape[0]
    seconds = time.perf_counter() - start
    return {"sequences_per_second": seen / seconds, "steps": args.steps, "seconds": seconds}


def ptls_speed(npz: Path, args) -> dict:
    cmd = [args.ptls_python, str(HELPER), str(npz), "--hidden", str(args.hidden), "--batch",
           str(args.batch), "--split-count", str(args.split_count), "--slice-min", str(args.slice_min),
           "--slice-max", str(args.slice_max), "--warmup", str(args.warmup), "--steps", str(args.steps),
           "--threads", str(args.threads)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError("pytorch-lifestream run failed: " + " | ".join(tail))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def speed(args) -> dict:
    out: dict = {
        "setup": {
            "data": "Online Retail sample, events before 2011-09-01 (2,668 customers)",
            "gru_hidden": args.hidden,
            "batch_entities": args.batch,
            "slices": f"{args.split_count} per entity, length {args.slice_min}..{args.slice_max}",
            "threads": args.threads,
            "timed_steps": args.steps,
            "warmup_steps": args.warmup,
            "rounds": args.rounds,
        }
    }
    if not Path(args.ptls_python).exists():
        out["error"] = (
            f"pytorch-lifestream environment not found at {args.ptls_python}; create it with: "
            "uv venv /tmp/ptls-venv && uv pip install --python /tmp/ptls-venv/bin/python "
            "pytorch-lifestream"
        )
        print("[speed]", out["error"])
        return out
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "events.npz"
        data = export_sequences(npz)
        ours, theirs = [], []
        for r in range(args.rounds):
            ours.append(sslkit_speed(data, args)["sequences_per_second"])
            try:
                res = ptls_speed(npz, args)
            except RuntimeError as exc:
                out["error"] = str(exc)
                print("[speed]", exc)
                break
            theirs.append(res["sequences_per_second"])
            out["ptls_version"] = res.get("ptls_version")
            print(f"[speed] round {r}: sslkit {ours[-1]:.1f} seq/s, ptls {theirs[-1]:.1f} seq/s",
                  flush=True)  # fmt: skip
    out["sslkit_sequences_per_second"] = ours
    out["ptls_sequences_per_second"] = theirs
    if ours and theirs:
        ratios = [a / b for a, b in zip(ours, theirs)]
        out["ratio_per_round"] = ratios
        out["ratio_median"] = statistics.median(ratios)
        out["sslkit_median"] = statistics.median(ours)
        out["ptls_median"] = statistics.median(theirs)
    return out


# ---------------------------------------------------------------------------------------------
# report


def environment() -> dict:
    import importlib.metadata as md

    import torch

    versions = {}
    for dist in ("sslkit-core", "sslkit-events", "torch", "pandas", "scikit-learn",
                 "pytorch-metric-learning"):  # fmt: skip
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "versions": versions,
    }


def table(result: dict) -> str:
    lines = []
    q = result.get("quality", {}).get("summary", {})
    if q:
        n = max((v["n"] for s in q.values() for v in s.values()), default=0)
        partial = (
            "" if result["quality"].get("complete", True) else " (partial: the run is not finished)"
        )
        lines += [
            f"ROC-AUC on the test customers (mean ± std over {n} seeds; higher is better){partial}:",
            "",
            "| features | logistic probe | HistGradientBoosting | pretraining (s) |",
            "|---|---|---|---|",
        ]

        def cell(stats: dict | None) -> str:
            return f"{stats['mean']:.4f} ± {stats['std']:.4f}" if stats else "n/a"

        agg = None
        for method, s in q.items():
            secs = s.get("pretrain_seconds")
            lines.append(
                f"| {method} embeddings | {cell(s.get('embeddings_logreg'))} | "
                f"{cell(s.get('embeddings_hgb'))} | {secs['mean']:.0f} |" if secs else
                f"| {method} embeddings | {cell(s.get('embeddings_logreg'))} | "
                f"{cell(s.get('embeddings_hgb'))} | |"
            )  # fmt: skip
            agg = agg or s
        if agg:
            lines.append(
                f"| hand-crafted aggregates | {cell(agg.get('aggregates_logreg'))} | "
                f"{cell(agg.get('aggregates_hgb'))} | |"
            )
        for method, s in q.items():
            if s.get("combined_hgb"):
                lines.append(
                    f"| {method} embeddings + aggregates | | {cell(s['combined_hgb'])} | |"
                )
        lines.append("")
    sp = result.get("speed", {})
    if sp.get("ratio_median"):
        st = sp["setup"]
        lines += [
            f"CoLES training speed, histories per second (GRU {st['gru_hidden']}, batch "
            f"{st['batch_entities']}, {st['slices']}, {st['threads']} threads; median of "
            f"{len(sp['ratio_per_round'])} alternating rounds):",
            "",
            "| sslkit | pytorch-lifestream " + str(sp.get("ptls_version", "")) + " | ratio |",
            "|---|---|---|",
            f"| {sp['sslkit_median']:.1f} | {sp['ptls_median']:.1f} | {sp['ratio_median']:.2f}x |",
            "",
        ]
    elif sp.get("error"):
        lines += [f"Speed: not measured: {sp['error']}", ""]
    env = result.get("environment", {})
    lines.append(
        f"Measured {result.get('date', '')} on {env.get('cpu_count')} CPU cores (load average "
        f"{', '.join(f'{x:.1f}' for x in env.get('load_average', []))} at the start), torch "
        f"{env.get('versions', {}).get('torch', '')}, by `uv run python benchmarks/events.py`."
    )
    return "\n".join(lines)


def write_doc(text: str) -> None:
    if not DOC.exists():
        return
    doc = DOC.read_text(encoding="utf-8")
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="coles,mem,cpc")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], help="extra key=value for pretraining")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--ptls-python", default="/tmp/ptls-venv/bin/python")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--split-count", type=int, default=5)
    ap.add_argument("--slice-min", type=int, default=2)
    ap.add_argument("--slice-max", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 seed, coles only, short speed runs")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.methods, args.steps, args.rounds = 1, "coles", 10, 1
    limit_threads(args.threads)
    result: dict = {
        "benchmark": "events",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "environment": environment(),
        "command": " ".join(["python", *sys.argv]),
    }

    def save(quality_so_far: dict | None = None) -> None:
        if quality_so_far is not None:
            result["quality"] = quality_so_far
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        if Path(args.out).resolve() == RESULTS.resolve():
            write_doc(table(result))

    if not args.skip_speed:
        result["speed"] = speed(args)
        limit_threads(args.threads)
        save()
    if not args.skip_quality:
        with tempfile.TemporaryDirectory() as tmp:
            methods = [m.strip() for m in args.methods.split(",") if m.strip()]
            q = quality(methods, list(range(args.seeds)), args.set, Path(tmp), save)
            q["complete"] = True
            result["quality"] = q
    save()
    print(table(result))


if __name__ == "__main__":
    main()
