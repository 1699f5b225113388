"""Molecules benchmark: BBBP ROC-AUC and ESOL RMSE on the deterministic scaffold split, for no
pretraining and every method pretrained on the embedded ZINC, with a linear probe on frozen
embeddings and fine-tuned with Hu et al.'s protocol (mean and std over fine-tuning seeds),
beside the published numbers; and featurisation throughput with the cache cold and warm.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice uv run python benchmarks/molecules.py \\
        --methods none attrmask molclr --seeds 10 --epochs 100

The full protocol (10 seeds x 100 epochs) costs hours of CPU per method; ``--seeds`` and
``--epochs`` cut it (the result file states what was run, and the projected CPU time of the
full protocol from the measured time per epoch). ``mlm`` (a token Transformer) is scored on
the same molecules as tokens, with its run's vocabulary. ``--run attrmask=runs/molecules-attrmask``
reuses a finished pretraining run instead of pretraining again. Results go to
``benchmarks/results/molecules.json`` (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_result

PUBLISHED = {
    # BBBP test ROC-AUC x 100, fine-tuned GIN pretrained on ZINC-2M (scaffold split, 10 seeds)
    "none": (65.8, "Hu et al. 2020, Table 1 (no pretraining; test at the best val epoch)"),
    "attrmask": (64.3, "Hu et al. 2020, Table 1 (AttrMasking alone; best val epoch)"),
    "graphcl": (69.7, "You et al. 2020 GraphCL, Table 5 (Hu et al.'s protocol)"),
    "graphmae": (72.0, "Hou et al. 2022 GraphMAE, Table 4 (test at the last epoch)"),
}


def _mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(statistics.fmean(values)),
        "std": float(statistics.pstdev(values)) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def throughput() -> dict[str, Any]:
    """Molecules per second of the featurisation of the embedded sets, cache cold then warm."""
    from sslkit.molecules.data.featurise_many import featurise_table
    from sslkit.molecules.data.reading import read_table, smiles_column

    out = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SSLKIT_CACHE"] = cache
        for name in ("bbbp", "esol", "zinc"):
            table = read_table(name)
            column = smiles_column(table.frame, "", table.source)
            row = {"molecules": len(table.frame)}
            for state in ("cold", "warm"):
                scaffolds = name != "zinc"  # a pretraining library needs no scaffold
                _, facts = featurise_table(table, column, "hu", False, False, True, scaffolds)
                row[state] = facts["molecules_per_second"]
                row[f"{state}_seconds"] = facts["seconds"]
                row["workers"] = max(row.get("workers", 1), facts["workers"])
            out[name] = row
        del os.environ["SSLKIT_CACHE"]
    return out


def pretrained(method: str, runs: dict[str, str], out: Path) -> tuple[Any, dict[str, Any]]:
    """The embedder of ``method`` pretrained on ZINC (the default preset), or of a given run;
    ``none``: the untrained network (seed 0). ``facts["tokens"]``: the run's token vocabulary
    (``mlm``), which its data must be read with."""
    from sslkit.core import api
    from sslkit.molecules.configs import AttrMaskConfig, MoleculeData
    from sslkit.molecules.data import load_data
    from sslkit.molecules.encoders import build_encoder
    from sslkit.molecules.finetune import untrained_like

    if method == "none":
        data = load_data(MoleculeData())
        return untrained_like(build_encoder(AttrMaskConfig(), data.info), 0), {"cpu_seconds": 0}
    if method in runs:
        loaded = api.load_run(runs[method])
        tokens = loaded.data.state().get("tokens")
        return loaded.method.embedder(), {
            "run": runs[method],
            "cpu_seconds": None,
            "tokens": tokens,
        }
    start = time.process_time()
    res = api.pretrain(
        "molecules",
        method,
        overrides=[f"train.out={out}", "train.quiet=true"],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    return res.method.embedder(), {
        "run": str(res.run_dir),
        "steps": res.steps,
        "cpu_seconds": round(time.process_time() - start, 1),
        "tokens": res.data.state().get("tokens"),
    }


def probe(embedder: Any, data: Any) -> dict[str, float]:
    """The default task's linear probe on frozen embeddings of ``data``."""
    from types import SimpleNamespace

    from sslkit.core.evaluate.embeddings import Embeddings
    from sslkit.molecules import tasks
    from sslkit.molecules.finetune import predict_embeddings

    cache = {
        s: Embeddings(None, predict_embeddings(embedder, data, s), None) for s in data.split_names()
    }
    ctx = SimpleNamespace(data=data, seed=0, embeddings=lambda s: cache[s])
    out = tasks.property_prediction(ctx)
    key = "rmse" if data.task_kind() == "regression" else "roc_auc"
    return {"test": out[key], "val": out[f"val_{key}"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["none", "attrmask", "molclr"])
    parser.add_argument("--datasets", nargs="+", default=["bbbp", "esol"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--run", action="append", default=[], help="method=run_dir to reuse")
    parser.add_argument("--out", default="runs/benchmark-molecules")
    parser.add_argument("--tag", default="")
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the featurisation timing"
    )
    args = parser.parse_args()

    import torch

    from sslkit.molecules.configs import MoleculeData
    from sslkit.molecules.data import load_data
    from sslkit.molecules.finetune import FineTuneOptions, fine_tune

    runs = dict(r.split("=", 1) for r in args.run)
    result: dict[str, Any] = {
        "machine": machine(("torch", "torch_geometric", "rdkit", "numpy")),
        "threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "protocol": {
            "split": "deterministic scaffold split (Hu et al.), 80/10/10",
            "pretraining": "the default preset of each method on the embedded ZINC (29,445 "
            "molecules, one pass), seed 0",
            "fine_tuning": f"Hu et al.: batch 32, Adam 1e-3, dropout 0.5; {args.epochs} epochs "
            f"(paper: 100), {args.seeds} seeds (paper: 10)",
            "probe": "the default task's linear probe on frozen embeddings (pretraining seed 0)",
        },
        "published_bbbp": PUBLISHED,
        "throughput": {} if args.no_throughput else throughput(),
        "methods": {},
    }
    datasets = {
        name: load_data(MoleculeData(path=name, pretrain_data="self")) for name in args.datasets
    }
    for method in args.methods:
        embedder, facts = pretrained(method, runs, Path(args.out))
        tokens = facts.pop("tokens", None)
        row: dict[str, Any] = {"pretraining": facts}
        for name, data in datasets.items():
            if tokens:  # the molecules as the run's tokens
                config = MoleculeData(path=name, pretrain_data="self")
                data = load_data(config, state={"tokens": tokens})
            scores: dict[str, Any] = {"probe": probe(embedder, data)}
            best, last, cpu = [], [], []
            for seed in range(args.seeds):
                ft = fine_tune(embedder, data, FineTuneOptions(epochs=args.epochs, seed=seed))
                best.append(ft["test_at_best_val"])
                last.append(ft["test_last"])
                cpu.append(ft["cpu_seconds"])
                print(f"{method} {name} seed {seed}: best-val {best[-1]:.4f} last {last[-1]:.4f} "
                      f"({cpu[-1]:.0f} s CPU)", flush=True)  # fmt: skip
            per_epoch = sum(cpu) / max(1, args.seeds * args.epochs)
            scores.update(
                fine_tuned_best_val=_mean_std(best),
                fine_tuned_last_epoch=_mean_std(last),
                fine_tune_cpu_seconds=round(sum(cpu), 1),
                cpu_seconds_per_epoch=round(per_epoch, 2),
                projected_full_cpu_hours=round(per_epoch * 100 * 10 / 3600, 2),
            )
            row[name] = scores
            print(method, name, scores["probe"], scores["fine_tuned_best_val"], flush=True)
        result["methods"][method] = row
        path = write_result("molecules" + (f"-{args.tag}" if args.tag else ""), result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
