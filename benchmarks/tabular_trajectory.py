"""What pretraining does to the frozen embedding over time: the logistic probe and RankMe of a
tabular method's embedding at its untrained start and at checkpoints along pretraining.

By default on the validation protocol: pretraining and the probe's train split are four fifths
of adult.data, the probe is scored on the seeded last fifth (``data.test_fraction``), so nothing
here looks at adult.test. Each point is the embedding ``sslkit evaluate`` would use (for T-JEPA
the EMA target encoder's tokens), probed with the ``probe`` task (C chosen on a tenth of the train
split). RankMe (Garrido et al., ICML 2023) is taken on the probe's test rows.

    uv run python benchmarks/tabular_trajectory.py                        # tjepa, seeds 0-1, 30 epochs
    uv run python benchmarks/tabular_trajectory.py --seeds 1 --set method.n_reg_tokens=8 --name tr-reg8

Writes benchmarks/results/<name>.json (after every point) and, for the default name, the table
in docs/tabular.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, write_result, write_table

NAME = "tabular-trajectory"


def validation_overrides() -> list[str]:
    adult = files("sslkit.tabular.datasets").joinpath("adult.data.gz")
    return [f"data.path={adult}", "data.target=incomes"]


def point(plugin: Any, cfg: Any, data: Any, model: Any, step: int) -> dict[str, Any]:
    """Probe accuracy, chosen C and RankMe of ``model``'s frozen embedding."""
    import torch

    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.core.evaluate.report import run_task
    from sslkit.core.objectives.monitors import rankme

    ctx = TaskContext(None, cfg, data, model.eval())
    probe = run_task(plugin, ctx, "probe")
    test = torch.from_numpy(ctx.embeddings("test").X)
    return {
        "step": step,
        "probe_accuracy": probe["accuracy"],
        "probe_C": probe.get("C"),
        "rankme": float(rankme(test)),
    }


def run_seed(method: str, seed: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from sslkit.core import api
    from sslkit.core.engine.checkpoint import load_model_file
    from sslkit.core.plugin import get_plugin

    overrides = [f"train.seed={seed}", f"train.epochs={args.epochs}", *args.set]
    cfg = api.resolve_config("tabular", method, overrides=overrides)
    plugin = get_plugin("tabular")
    data, model = api.initial_method(cfg)  # the weights pretraining starts from
    points = [point(plugin, cfg, data, model, 0)]
    print(f"seed {seed} step 0: {points[-1]}", flush=True)
    c0 = time.process_time()
    result = api.pretrain(
        "tabular",
        method,
        overrides=[
            *overrides,
            f"train.out={workdir}",
            f"train.name={method}-{seed}",
            "train.quiet=true",
            "train.keep_checkpoints=1000",  # one at the end of every epoch
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    pretrain_cpu = time.process_time() - c0
    steps_per_epoch = result.steps // args.epochs
    for folder in sorted((result.run_dir / "checkpoints").glob("step-*")):
        step = int(folder.name.removeprefix("step-"))
        if (step // steps_per_epoch) % args.every_epochs and step != result.steps:
            continue
        load_model_file(model, folder / "model.safetensors")
        points.append(point(plugin, cfg, data, model, step))
        print(f"seed {seed} step {step}: {points[-1]}", flush=True)
    for p in points:
        p["epoch"] = p["step"] / steps_per_epoch
    return {
        "seed": seed,
        "steps": result.steps,
        "steps_per_epoch": steps_per_epoch,
        "pretrain_cpu_s": pretrain_cpu,
        "points": points,
    }


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds at each epoch that every seed has."""
    by_epoch: dict[float, list[dict[str, Any]]] = {}
    for run in runs:
        for p in run["points"]:
            by_epoch.setdefault(round(p["epoch"], 2), []).append(p)
    rows = []
    for epoch in sorted(by_epoch):
        ps = by_epoch[epoch]
        if len(ps) < len(runs):
            continue
        acc = [p["probe_accuracy"] for p in ps]
        rows.append(
            {
                "epoch": epoch,
                "seeds": len(ps),
                "probe_accuracy": statistics.fmean(acc),
                "probe_accuracy_per_seed": acc,
                "rankme": statistics.fmean(p["rankme"] for p in ps),
            }
        )
    return rows


def seed_of(run: dict[str, Any]) -> int:
    return int(run["seed"])


def saved_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The seeds already in the result file when it was made with the same method, options and
    epochs (so ``--first-seed`` adds seeds to a run made in chunks); otherwise none."""
    import json

    from _common import RESULTS

    path = RESULTS / f"{args.name}.json"
    if not path.exists():
        return []
    saved = json.loads(path.read_text())
    same = (saved.get("method"), saved.get("overrides"), saved.get("epochs")) == (
        args.method,
        args.set,
        args.epochs,
    )
    return list(saved.get("runs", [])) if same else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="tjepa")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--every-epochs", type=int, default=3, help="probe cadence")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--test-file",
        action="store_true",
        help="pretrain on all of adult.data and probe on adult.test (default: validation fifth)",
    )
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides")
    parser.add_argument("--name", default=NAME, help="result file name (benchmarks/results/)")
    args = parser.parse_args()
    if not args.test_file:
        args.set = [*validation_overrides(), *args.set]

    import torch

    torch.set_num_threads(min(args.threads, 2))
    warnings.simplefilter("ignore")
    runs = saved_runs(args)
    with tempfile.TemporaryDirectory(prefix="sslkit-bench-trajectory-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs = [r for r in runs if r["seed"] != seed]
            runs = sorted([*runs, run_seed(args.method, seed, args, Path(tmp))], key=seed_of)
            summary = summarise(runs)
            payload = {
                "benchmark": "tabular-trajectory",
                "method": args.method,
                "protocol": "adult.data -> adult.test"
                if args.test_file
                else "validation: 4/5 of adult.data -> its seeded last fifth",
                "overrides": args.set,
                "epochs": args.epochs,
                "threads": torch.get_num_threads(),
                "machine": machine(("torch", "numpy", "scikit-learn")),
                "summary": summary,
                "runs": runs,
            }
            write_result(args.name, payload)
    if args.name == NAME:
        write_table(
            "tabular.md",
            NAME,
            [
                [
                    f"{r['epoch']:g}",
                    f"{r['probe_accuracy']:.4f}",
                    " / ".join(f"{a:.4f}" for a in r["probe_accuracy_per_seed"]),
                    f"{r['rankme']:.0f}",
                ]
                for r in summary
            ],
            ["epoch", "probe accuracy (mean)", "per seed", "RankMe"],
        )


if __name__ == "__main__":
    main()
