"""Adult test accuracy of T-JEPA, SCARF, VIME and no pretraining (mean and std over seeds).

Protocol: pretrain on adult.data (the train file, labels unused), embed train and test files with
the frozen encoder, then
- ``probe``: logistic regression on standardised embeddings (C chosen on a tenth of adult.data);
- ``mlp``: a small MLP head on standardised embeddings;
- ``raw+emb MLP``: the same MLP on raw features + embeddings (``tjepa-protocol``); "none" is that MLP (and the logistic probe) on the raw features alone,
  "none-ple" the same with numeric columns piecewise-linear encoded (a strong baseline without
  pretraining, since T-JEPA's default encoder embeds numbers periodically);
- ``<method>-untrained`` (``tjepa-untrained``, ...): the control every SSL result needs, the same
  encoder with the weights it starts pretraining from (same seed, preset and preprocessing), never
  trained, evaluated the same way. Pretraining adds what the method scores above it.
Published anchors (T-JEPA repository README, Adult): MLP 0.825, MLP + T-JEPA 0.866, XGBoost 0.874.
The reference code's "MLP + T-JEPA" is an MLP on the embeddings alone (its results/adult_AD/mlp
report ``adult_embedded_test_accuracy`` 0.8658 ± 0.0020 over 20 runs), so it compares with the
"MLP on embeddings" column; MLP and XGBoost are models on the raw features.

    uv run python benchmarks/tabular.py                 # 5 seeds, every method, default presets
    uv run python benchmarks/tabular.py --seeds 1 --methods tjepa
    uv run python benchmarks/tabular.py --methods tjepa-untrained,scarf-untrained,vime-untrained

Writes benchmarks/results/tabular.json (rewritten after every run, so a stopped benchmark keeps
what it measured) and the table in docs/tabular.md. CPU time is the process time (user + system,
all threads) of each pretraining and of each evaluation; at most 2 threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, write_result, write_table

ANCHORS = {"MLP (paper)": 0.825, "MLP + T-JEPA (paper)": 0.866, "XGBoost (paper)": 0.874}
EMBEDDING_ANCHORS = ("MLP + T-JEPA (paper)",)
"""Anchors of a model on the embeddings alone: the reference code's "MLP + T-JEPA" trains its MLP
on the target encoder's output (its ``adult_embedded`` data set), not on raw + embeddings. The
other anchors are models on the raw features."""
METHODS = ("tjepa", "scarf", "vime")
BASELINES = ("none", "none-ple")
CONTROLS = tuple(f"{m}-untrained" for m in METHODS)
ROW_ORDER = tuple(x for m in METHODS for x in (m, f"{m}-untrained"))
"""Each method's row followed by its untrained control's."""
BASELINE_NAMES = {
    "none": "none (raw features)",
    "none-ple": "none (raw, numeric piecewise-linear encoded)",
}


def cpu() -> float:
    return time.process_time()


def run_method(
    method: str, seed: int, workdir: Path, extra: list[str], preset: str | None = None
) -> dict[str, Any]:
    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import TaskContext

    c0, w0 = cpu(), time.perf_counter()
    result = api.pretrain(
        "tabular",
        method,
        preset=preset,
        overrides=[
            f"train.seed={seed}",
            f"train.out={workdir}",
            f"train.name={method}-{seed}",
            "train.quiet=true",
            *extra,
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    c1, w1 = cpu(), time.perf_counter()
    loaded = api.load_run(result.run_dir)
    ctx = TaskContext(loaded.run_dir, loaded.config, loaded.data, loaded.method)
    return {
        "method": method,
        "seed": seed,
        "preset": preset or "default",
        "overrides": list(extra),
        "steps": result.steps,
        "final_loss": result.losses[-1] if result.losses else None,
        "pretrain_cpu_s": c1 - c0,
        "pretrain_wall_s": w1 - w0,
        **evaluate_frozen(loaded.plugin, ctx, w0),
    }


def run_untrained(
    control: str, seed: int, extra: list[str], preset: str | None = None
) -> dict[str, Any]:
    """``control`` = ``<method>-untrained``: the method's model with the weights its pretraining
    starts from (``api.initial_method``), evaluated untrained."""
    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.core.plugin import get_plugin

    w0 = time.perf_counter()
    cfg = api.resolve_config(
        "tabular",
        control.removesuffix("-untrained"),
        preset=preset,
        overrides=[f"train.seed={seed}", *extra],
    )
    data, model = api.initial_method(cfg)
    ctx = TaskContext(None, cfg, data, model.eval())
    return {
        "method": control,
        "seed": seed,
        "preset": preset or "default",
        "overrides": list(extra),
        "steps": 0,
        "pretrain_cpu_s": 0.0,
        **evaluate_frozen(get_plugin("tabular"), ctx, w0),
    }


def evaluate_frozen(plugin: Any, ctx: Any, wall_start: float) -> dict[str, Any]:
    """The probe and the T-JEPA protocol's three MLPs (raw, embeddings, both) on ``ctx``'s
    frozen embeddings."""
    from sslkit.core.evaluate.report import run_task

    c1 = cpu()
    probe = run_task(plugin, ctx, "probe")
    c2 = cpu()
    protocol = run_task(plugin, ctx, "tjepa-protocol")  # its embedding arm is the mlp task
    return {
        "probe_accuracy": probe["accuracy"],
        "probe_roc_auc": probe.get("roc_auc"),
        "probe_C": probe.get("C"),
        "mlp_accuracy": protocol["embedding_accuracy"],
        "raw_mlp_accuracy": protocol["raw_accuracy"],
        "raw_emb_mlp_accuracy": protocol["raw_embedding_accuracy"],
        "embed_dim": float(probe["dim"]),
        "probe_cpu_s": c2 - c1,
        "eval_cpu_s": cpu() - c1,
        "wall_s": time.perf_counter() - wall_start,
    }


def piecewise_linear(train: Any, test: Any, n_num: int, bins: int = 48) -> tuple[Any, Any]:
    """The numeric columns (the first ``n_num``) replaced by their piecewise-linear encoding
    (Gorishniy et al. 2022, PLE: quantile bins of the train split; bin t is 0 below it, 1 above
    it, linear inside it); the one-hot categories are kept."""
    import numpy as np

    def encode(x: Any) -> Any:
        parts = []
        for j, e in enumerate(edges):
            left, right = e[:-1], e[1:]
            parts.append(np.clip((x[:, j : j + 1] - left) / np.maximum(right - left, 1e-9), 0, 1))
        return np.concatenate([*parts, x[:, n_num:]], axis=1).astype(np.float32)

    quantiles = np.linspace(0, 1, bins + 1)
    edges = [np.unique(np.quantile(train[:, j], quantiles)) for j in range(n_num)]
    edges = [e if len(e) > 1 else np.array([e[0], e[0] + 1.0]) for e in edges]
    return encode(train), encode(test)


def run_none(seed: int, ple: bool = False) -> dict[str, Any]:
    """No pretraining: the logistic probe and the MLP on the raw features (numeric columns as
    scaled values, or with ``ple`` as their piecewise-linear encoding)."""
    from types import SimpleNamespace

    from sslkit.tabular.configs import TabularData
    from sslkit.tabular.data import load_data
    from sslkit.tabular.tasks import fit_mlp, fit_probe, raw_features

    c0, w0 = cpu(), time.perf_counter()
    ctx = SimpleNamespace(data=load_data(TabularData()), seed=seed)
    Xtr, ytr = raw_features(ctx, "train")
    Xte, yte = raw_features(ctx, "test")
    if ple:
        Xtr, Xte = piecewise_linear(Xtr, Xte, int(ctx.data.info["n_num"]))
    probe = fit_probe(Xtr, ytr, Xte, yte, "classification", seed)
    mlp = fit_mlp(Xtr, ytr, Xte, yte, "classification", seed)
    return {
        "method": "none-ple" if ple else "none",
        "seed": seed,
        "preset": "-",
        "overrides": [],
        "probe_accuracy": probe["accuracy"],
        "probe_roc_auc": probe.get("roc_auc"),
        "probe_C": probe.get("C"),
        "mlp_accuracy": mlp["accuracy"],
        "raw_mlp_accuracy": mlp["accuracy"],
        "raw_emb_mlp_accuracy": None,
        "embed_dim": float(Xtr.shape[1]),
        "pretrain_cpu_s": 0.0,
        "eval_cpu_s": cpu() - c0,
        "wall_s": time.perf_counter() - w0,
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in BASELINES + ROW_ORDER:
        rs = [r for r in runs if r["method"] == method]
        if not rs:
            continue
        row: dict[str, Any] = {
            "seeds": len(rs),
            "presets": sorted({str(r.get("preset", "default")) for r in rs}),
        }
        for key in (
            "probe_accuracy",
            "mlp_accuracy",
            "raw_emb_mlp_accuracy",
            "raw_mlp_accuracy",
            "pretrain_cpu_s",
            "eval_cpu_s",
        ):
            m, s = mean_std([r.get(key) for r in rs])
            row[key] = {"mean": m, "std": s}
        out[method] = row
    return out


def fmt(stat: dict[str, float], digits: int = 4) -> str:
    if stat["mean"] != stat["mean"]:  # nan
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def row_name(method: str, row: dict[str, Any]) -> str:
    presets = ", ".join(row["presets"])
    if method in CONTROLS:
        return f"{method.removesuffix('-untrained')} ({presets}), untrained: control"
    return f"{method} ({presets})"


GAIN_COLUMNS = ("probe_accuracy", "mlp_accuracy", "raw_emb_mlp_accuracy")


def gains(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per method, per column: the method's score minus its untrained control's, seed by seed
    (the seeds both have)."""
    by = {(r["method"], r["seed"]): r for r in runs}
    out: dict[str, dict[str, list[float]]] = {}
    for method in METHODS:
        seeds = sorted(s for m, s in by if m == method and (f"{method}-untrained", s) in by)
        if seeds:
            out[method] = {
                key: [by[method, s][key] - by[f"{method}-untrained", s][key] for s in seeds]
                for key in GAIN_COLUMNS
            }
    return out


def write_gains(runs: list[dict[str, Any]]) -> None:
    rows = []
    for method, cols in gains(runs).items():
        cells = [
            f"{statistics.fmean(v):+.4f} ({', '.join(f'{x:+.4f}' for x in v)})"
            for v in cols.values()
        ]
        rows.append([method, str(len(cols["probe_accuracy"])), *cells])
    write_table(
        "tabular.md",
        "tabular-adult-gain",
        rows,
        [
            "method minus its untrained control",
            "seeds",
            "logistic probe: mean (per seed)",
            "MLP on embeddings",
            "MLP on raw + embeddings",
        ],
    )


def write_docs(runs: list[dict[str, Any]]) -> None:
    """The results table and the gains-over-control table in docs/tabular.md."""
    write_gains(runs)
    rows = []
    for method, row in summarise(runs).items():
        rows.append(
            [
                BASELINE_NAMES.get(method) or row_name(method, row),
                str(row["seeds"]),
                fmt(row["probe_accuracy"]),
                fmt(row["mlp_accuracy"]) if method not in BASELINES else "-",
                fmt(row["raw_emb_mlp_accuracy"])
                if method not in BASELINES
                else fmt(row["raw_mlp_accuracy"]),
                f"{row['pretrain_cpu_s']['mean']:.0f}",
                f"{row['eval_cpu_s']['mean']:.0f}",
            ]
        )
    for name, value in ANCHORS.items():
        row = [name, "-", "-", "-", "-", "-", "-"]
        row[3 if name in EMBEDDING_ANCHORS else 4] = f"{value:.3f}"
        rows.append(row)
    write_table(
        "tabular.md",
        "tabular-adult",
        rows,
        [
            "pretraining",
            "seeds",
            "logistic probe on embeddings",
            "MLP on embeddings",
            "MLP on raw (+ embeddings)",
            "pretrain CPU s",
            "eval CPU s",
        ],
    )


def load_runs(name: str) -> list[dict[str, Any]]:
    """Runs already in benchmarks/results/<name>.json (a benchmark run in chunks merges them)."""
    from _common import RESULTS

    path = RESULTS / f"{name}.json"
    if not path.exists():
        return []
    import json

    return list(json.loads(path.read_text()).get("runs", []))


def merge(runs: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """``runs`` with ``new`` replacing any run of the same method and seed, in a stable order."""
    kept = [r for r in runs if (r["method"], r["seed"]) != (new["method"], new["seed"])]
    order = {m: i for i, m in enumerate(BASELINES + ROW_ORDER)}
    return sorted([*kept, new], key=lambda r: (order.get(r["method"], 99), r["seed"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(BASELINES + ROW_ORDER))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides")
    parser.add_argument(
        "--preset",
        action="append",
        default=[],
        help="method=preset (e.g. tjepa=paper); other methods use their default preset",
    )
    parser.add_argument("--name", default="tabular", help="result file name (benchmarks/results/)")
    parser.add_argument(
        "--fresh", action="store_true", help="drop the runs already in the result file"
    )
    parser.add_argument(
        "--docs-only",
        action="store_true",
        help="only rewrite the docs table from the saved benchmarks/results/tabular.json",
    )
    args = parser.parse_args()
    if args.docs_only:
        write_docs(load_runs("tabular"))
        return

    import torch

    torch.set_num_threads(min(args.threads, 2))
    warnings.simplefilter("ignore")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(BASELINES + ROW_ORDER))
    if unknown:
        parser.error(f"unknown --methods {unknown}; known: {', '.join(BASELINES + ROW_ORDER)}")
    presets = dict(p.split("=", 1) for p in args.preset)
    runs: list[dict[str, Any]] = [] if args.fresh else load_runs(args.name)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sslkit-bench-tabular-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for method in methods:
                if method in BASELINES:
                    r = run_none(seed, ple=method == "none-ple")
                elif method in CONTROLS:
                    base = method.removesuffix("-untrained")
                    r = run_untrained(method, seed, args.set, presets.get(base))
                else:
                    r = run_method(method, seed, Path(tmp), args.set, presets.get(method))
                runs = merge(runs, r)
                print(
                    f"seed {seed} {method:6s} probe {r['probe_accuracy']:.4f} "
                    f"mlp {r['mlp_accuracy']:.4f} "
                    f"raw+emb {r['raw_emb_mlp_accuracy'] or float('nan'):.4f} "
                    f"pretrain cpu {r['pretrain_cpu_s']:.0f}s eval cpu {r['eval_cpu_s']:.0f}s",
                    flush=True,
                )
                summary = summarise(runs)
                payload = {
                    "benchmark": "tabular-adult",
                    "data": "UCI Adult, adult.data (train) / adult.test (test), target incomes",
                    "metric": "test accuracy",
                    "anchors": ANCHORS,
                    "presets": {m: presets.get(m, "default") for m in METHODS},
                    "threads": torch.get_num_threads(),
                    "machine": machine(("torch", "numpy", "pandas", "scikit-learn")),
                    "summary": summary,
                    "runs": runs,
                    "wall_s_last_invocation": time.perf_counter() - start,
                }
                write_result(args.name, payload)
                if args.name == "tabular":
                    write_docs(runs)


if __name__ == "__main__":
    main()
