"""Molecules benchmark: BBBP ROC-AUC and ESOL RMSE on the deterministic scaffold split, for no
pretraining and every method pretrained on the embedded ZINC, with a linear probe on frozen
embeddings and fine-tuned with Hu et al.'s protocol (mean and std over fine-tuning seeds),
beside the published numbers; and featurisation throughput with the cache cold and warm.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice uv run python benchmarks/molecules.py \\
        --methods none attrmask molclr --seeds 10 --epochs 100

The full protocol (10 seeds x 100 epochs) costs about 2 CPU hours per method on one core, so
it is built to accumulate: every fine-tuning seed is written to the result file as it ends, and
a second call with the same ``--tag`` reuses the file's pretraining runs (while their folders
exist) and skips the seeds it holds for the same ``--epochs`` (and drops those fine-tuned at
another rate). ``--seed-from K`` starts at seed
K, so two processes (two tags) can share the seeds; ``--table FILE...`` merges result files
(per method and set, the seeds fine-tuned for the most epochs) into the table of
``docs/molecules.md``. ``--seeds 0`` runs the probes only. ``mlm`` (a token Transformer) is
scored on the same molecules as tokens, with its run's vocabulary; ``none-mlm`` is its
control, the same Transformer untrained (with ``--run mlm=RUN`` or an mlm row in the file).
``--run attrmask=runs/molecules-attrmask`` reuses a finished pretraining run. ``--device
cuda`` pretrains, probes and fine-tunes on a GPU (``benchmarks/gpu_check.sh``). Results go to
``benchmarks/results/molecules.json`` (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, resumed, write_result, write_table

PUBLISHED = {
    # BBBP test ROC-AUC x 100, fine-tuned GIN pretrained on ZINC-2M (scaffold split, 10 seeds)
    "none": (65.8, "Hu et al. 2020, Table 1 (no pretraining; test at the best val epoch)"),
    "attrmask": (64.3, "Hu et al. 2020, Table 1 (AttrMasking alone; best val epoch)"),
    "graphcl": (69.7, "You et al. 2020 GraphCL, Table 5 (Hu et al.'s protocol)"),
    "graphmae": (72.0, "Hou et al. 2022 GraphMAE, Table 4 (test at the last epoch)"),
}


SETS = {"bbbp": "roc_auc", "esol": "rmse"}


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


def weights_digest(embedder: Any) -> str:
    """A digest of the embedder's parameters and buffers: the pretrained model's identity."""
    from sslkit.core.evaluate.logistic import digest

    return digest(*(t.detach().cpu().numpy() for t in embedder.state_dict().values())).hex()


def pretrained(
    method: str, runs: dict[str, str], out: Path, sets: list[str], device: str = "cpu"
) -> tuple[Any, dict[str, Any]]:
    """The embedder of ``method`` pretrained on ZINC (the default preset with the ``--set``
    overrides ``sets``), or of a given run;
    ``none``: the untrained network (seed 0). ``facts["tokens"]``: the run's token vocabulary
    (``mlm``), which its data must be read with."""
    from sslkit.core import api
    from sslkit.core.plugin import get_plugin
    from sslkit.molecules.configs import AttrMaskConfig, MoleculeData
    from sslkit.molecules.data import load_data
    from sslkit.molecules.encoders import build_encoder
    from sslkit.molecules.finetune import untrained_like

    if method == "none":
        data = load_data(MoleculeData())
        return untrained_like(build_encoder(AttrMaskConfig(), data.info), 0), {"cpu_seconds": 0}
    if method == "none-mlm":  # mlm's control: its Transformer untrained, on its run's tokens
        if "mlm" not in runs:
            sys.exit(
                "none-mlm needs an mlm run: add --run mlm=RUN, or use the tag of a file with one"
            )
        embedder, facts = pretrained("mlm", runs, out, sets, device)
        control = {k: v for k, v in facts.items() if k not in ("overrides", "steps", "weights")}
        return untrained_like(embedder, 0), {**control, "cpu_seconds": 0}  # untrained: no recipe
    if method in runs:
        loaded = api.load_run(runs[method])
        tokens = loaded.data.state().get("tokens")
        embedder = loaded.method.embedder()
        return embedder, {
            "run": str(Path(runs[method]).resolve()),  # as a fresh run records it: the same row
            "weights": weights_digest(embedder),
            "steps": loaded.checkpoint.get("step"),
            "overrides": run_overrides(loaded.plugin, loaded.config),
            "cpu_seconds": None,
            "tokens": tokens,
        }
    start = time.process_time()
    res = api.pretrain(
        "molecules",
        method,
        overrides=[*sets, f"train.out={out}", "train.quiet=true", f"train.device={device}"],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    embedder = res.method.embedder()
    return embedder, {
        "run": str(res.run_dir),
        "weights": weights_digest(embedder),
        "steps": res.steps,
        "overrides": run_overrides(get_plugin("molecules"), res.config),
        "cpu_seconds": round(time.process_time() - start, 1),
        "tokens": res.data.state().get("tokens"),
    }


# run plumbing, not the pretraining recipe: a reused run's values of these are not overrides
_PLUMBING = {"out", "name", "quiet", "progress", "tensorboard", "device", "num_workers", "resume",
             "log_every", "checkpoint_every", "checkpoint_minutes", "keep_checkpoints",
             "warn_below_steps", "monitor_every", "monitor_batch", "compile", "sync_batchnorm",
             "find_unused_parameters"}  # fmt: skip


def run_overrides(plugin: Any, config: Any) -> list[str]:
    """A run's ``--set`` overrides: its data, train and model keys that differ from the
    method's default preset as it is now (so a longer run keeps its own row in the table)."""
    from sslkit.core.config import build_run_config, config_diff

    default = build_run_config(plugin, config.method)
    return sorted(
        f"{key}={value}"
        for key, (_, value) in config_diff(default, config).items()
        if not (key.startswith("train.") and key.split(".", 1)[1] in _PLUMBING)
    )


def probe(embedder: Any, data: Any, device: str = "cpu") -> dict[str, float]:
    """The default task's linear probe on frozen embeddings of ``data``."""
    from types import SimpleNamespace

    from sslkit.core.evaluate.embeddings import Embeddings
    from sslkit.molecules import tasks
    from sslkit.molecules.finetune import predict_embeddings

    cache = {
        s: Embeddings(None, predict_embeddings(embedder, data, s, device), None)
        for s in data.split_names()
    }
    ctx = SimpleNamespace(data=data, seed=0, embeddings=lambda s: cache[s])
    out = tasks.property_prediction(ctx)
    key = "rmse" if data.task_kind() == "regression" else "roc_auc"
    return {"test": out[key], "val": out[f"val_{key}"]}


def _rate(seed: dict[str, Any]) -> float:
    """A seed's fine-tuning rate; one without ``lr`` was fine-tuned at 1e-3, the only rate
    before the token Transformer had its own."""
    return seed.get("lr", 1e-3)


def _summary(seeds: dict[str, dict[str, Any]], epochs: int) -> dict[str, Any]:
    """Mean and std over the seeds fine-tuned for ``epochs`` epochs, and the CPU time."""
    done = [r for r in seeds.values() if r["epochs"] == epochs]
    if not done:
        return {}
    cpu = sum(r["cpu_seconds"] for r in done)
    per_epoch = cpu / (len(done) * epochs)
    return {
        "fine_tuned_best_val": _mean_std([r["test_at_best_val"] for r in done]),
        "fine_tuned_last_epoch": _mean_std([r["test_last"] for r in done]),
        "best_epoch": _mean_std([r["best_epoch"] for r in done]),
        "fine_tune_cpu_seconds": round(cpu, 1),
        "cpu_seconds_per_epoch": round(per_epoch, 2),
        "projected_full_cpu_hours": round(per_epoch * 100 * 10 / 3600, 2),
    }


# the budget keys: a run's steps name them in its row
_BUDGET = ("train.epochs=", "train.steps=", "train.min_steps=", "train.max_steps=")


def row_name(method: str, facts: dict[str, Any]) -> str:
    """A run's table row: the method, and for a run with overrides its steps and the overrides
    other than the budget ("graphmae (3450 steps)", "attrmask (115 steps; data.featuriser=ogb)"),
    so two recipes never share a row."""
    overrides = facts.get("overrides") or []
    if not overrides:
        return method
    recipe = "; ".join(o for o in overrides if not o.startswith(_BUDGET))
    return f"{method} ({facts['steps']} steps{'; ' + recipe if recipe else ''})"


def _same_model(into: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether a later file's run is the same pretrained model as the one merged so far: the
    same :func:`weights_digest` where both files record it; otherwise its probes equal the
    earlier run's on every set both hold, to the last digit (a run pretrained again with the
    same recipe and seed on the same kind of CPU); with no set in common, the same run folder.
    The folder alone does not decide: a run pretrained again into it on another host can
    differ (session 23's contextpred: BBBP probe 0.636 against 0.653)."""
    mine, theirs = into["pretraining"].get("weights"), row["pretraining"].get("weights")
    if mine and theirs:  # files since session 23 record the weights' digest
        return mine == theirs
    shared = [name for name in SETS if name in into and name in row]
    if not shared:
        return into["pretraining"].get("run") == row["pretraining"].get("run")
    return all(into[n]["probe"] == row[n]["probe"] for n in shared)


def _merged(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: the pretraining facts and, per set, the probe and the seeds fine-tuned for
    the most epochs found in any of ``results`` (later files add seeds to the same pretraining
    run, or to the same model pretrained again elsewhere, :func:`_same_model`, and replace the
    method's row when they hold another run). A run pretrained with
    ``--set`` overrides (a longer one, say; the overrides are :func:`run_overrides` of its
    saved config, whether pretrained now or reused with ``--run``) is a row of its own,
    :func:`row_name`."""
    out: dict[str, dict[str, Any]] = {}
    for result in results:
        for method, row in result["methods"].items():
            facts = row["pretraining"]
            key = row_name(method, facts)
            into = out.setdefault(key, {"pretraining": facts})
            if not _same_model(into, row):
                into = out[key] = {"pretraining": facts}  # a later run replaces
            elif into["pretraining"].get("cpu_seconds") is None:
                into["pretraining"] = facts  # the file that pretrained it knows its CPU time
            for name in SETS:
                if name not in row:
                    continue
                got = into.setdefault(name, {"probe": row[name]["probe"], "seeds": {}})
                seeds = row[name].get("seeds", {})
                most = max([r["epochs"] for r in [*got["seeds"].values(), *seeds.values()]] or [0])
                rates = [_rate(r) for r in [*seeds.values(), *got["seeds"].values()]
                         if r["epochs"] == most]  # fmt: skip
                rate = rates[0] if rates else None  # a later file's rate replaces an earlier one
                got["seeds"] = {
                    k: r
                    for k, r in {**got["seeds"], **seeds}.items()
                    if r["epochs"] == most and _rate(r) == rate
                }
                got["epochs"] = most
    return out


def control_of(row: str) -> str:
    """The row a pretrained row is compared with: the same encoder untrained (``none-mlm``, the
    token Transformer, for mlm's rows; ``none``, the GIN, for the others)."""
    return "none-mlm" if row.split(" ")[0] == "mlm" else "none"


def paired_lines(merged: dict[str, dict[str, Any]]) -> list[str]:
    """Each pretrained row against its untrained control (:func:`control_of`) on the seeds both
    hold, fine-tuned, at the best val epoch (Hu et al.'s protocol) and, where the seeds record
    it, at the last epoch (GraphMAE's): the mean per-seed difference ± its standard error
    (core's ``paired_text``) and how many seeds are better (higher ROC-AUC, lower RMSE)."""
    from sslkit.core.evaluate.payoff import paired_text

    lines = []
    for name, sign in (("bbbp", 1), ("esol", -1)):
        for key, label in (("test_at_best_val", ""), ("test_last", " (last epoch)")):
            for method, row in merged.items():
                if method in ("none", "none-mlm"):
                    continue
                control_row = control_of(method)
                base = merged.get(control_row, {}).get(name, {}).get("seeds", {})
                seeds = row.get(name, {}).get("seeds", {})
                common = [k for k in sorted(set(seeds) & set(base), key=int)
                          if key in seeds[k] and key in base[k]]  # fmt: skip
                if len(common) < 2:
                    continue
                mine, control = ([s[k][key] for k in common] for s in (seeds, base))
                text = paired_text(mine, control, control_row, sign)
                lines.append(f"{name} {method}{label}: {text}")
    return lines


def table(results: list[dict[str, Any]]) -> None:
    """The docs tables (docs/molecules.md, between the ``MOLECULES-BENCH`` and
    ``MOLECULES-THROUGHPUT`` markers): one row per method, the published BBBP number beside it
    (GraphCL has only its published row), and the featurisation throughput of the last file
    that measured it; printed: :func:`paired_lines`."""

    def cell(summary: dict[str, Any], key: str) -> str:
        if not summary:
            return "-"
        v = summary[key]
        return f"{v['mean']:.4f} ± {v['std']:.4f} (n={v['n']})"

    def published(method: str) -> str:
        value, source = PUBLISHED.get(method.split(" (")[0], (None, ""))
        return "-" if value is None else f"{value / 100:.3f} ({source.split(',')[0]})"

    header = ["method"]
    for name, metric in SETS.items():
        header += [f"{name.upper()} probe (test {metric})", f"{name.upper()} fine-tuned, best val"
                   " epoch", f"{name.upper()} fine-tuned, last epoch", f"{name.upper()} epochs"]  # fmt: skip
        if name == "bbbp":
            header.append("BBBP published (fine-tuned)")
    header += ["fine-tuning CPU s / epoch (BBBP, ESOL)", "pretraining CPU s"]
    rows = []
    merged = _merged(results)
    for method, row in sorted(merged.items(), key=lambda item: item[0] != "none"):
        cells = [method]
        per_epoch = []
        for name in SETS:
            got = row.get(name, {})
            summary = _summary(got.get("seeds", {}), got.get("epochs", 0))
            probe_test = got.get("probe", {}).get("test")
            cells += [
                "-" if probe_test is None else f"{probe_test:.4f}",
                cell(summary, "fine_tuned_best_val"),
                cell(summary, "fine_tuned_last_epoch"),
                str(got.get("epochs", "-")) if summary else "-",
            ]
            per_epoch.append(f"{summary['cpu_seconds_per_epoch']:.1f}" if summary else "-")
            if name == "bbbp":
                cells.append(published(method))
        cpu = row["pretraining"].get("cpu_seconds")
        cells += [", ".join(per_epoch), "-" if cpu is None else f"{cpu:.0f}"]
        rows.append(cells)
    for method in (m for m in PUBLISHED if m not in merged):  # published only, in PUBLISHED order
        row = ["-"] * len(header)
        row[0], row[header.index("BBBP published (fine-tuned)")] = method, published(method)
        rows.append(row)
    write_table("molecules.md", "MOLECULES-BENCH", rows, header)
    for line in paired_lines(merged):
        print(line)
    measured = [r for r in results if "throughput" in r]
    if measured:
        rows = [
            [name, f"{r['molecules']:,}", f"{r['cold']:,.0f}", f"{r['cold_seconds']:.1f}",
             f"{r['warm']:,.0f}", f"{r['warm_seconds']:.3f}", str(r["workers"])]
            for name, r in measured[-1]["throughput"].items()
        ]  # fmt: skip
        header = ["set", "molecules", "cold (molecules/s)", "cold (s)", "warm (molecules/s)",
                  "warm (s)", "worker processes"]  # fmt: skip
        write_table("molecules.md", "MOLECULES-THROUGHPUT", rows, header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["none", "attrmask", "molclr"])
    parser.add_argument("--datasets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", type=int, default=10, help="fine-tuning seeds (0: probe only)")
    parser.add_argument("--seed-from", type=int, default=0, help="the first fine-tuning seed")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--run", action="append", default=[], help="method=run_dir to reuse")
    parser.add_argument("--set", action="append", default=[], help="pretraining override")
    parser.add_argument("--out", default="runs/benchmark-molecules")
    parser.add_argument("--tag", default="")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (fine-tuning, too)")
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the featurisation timing"
    )
    parser.add_argument("--table", nargs="*", default=[], help="only write the docs table")
    args = parser.parse_args()
    if args.table:
        table([json.loads(Path(t).read_text()) for t in args.table])
        return

    import torch

    from sslkit.molecules.configs import MoleculeData
    from sslkit.molecules.data import load_data
    from sslkit.molecules.finetune import FineTuneOptions, fine_tune

    name = "molecules" + (f"-{args.tag}" if args.tag else "")
    result, runs = resumed(name)
    runs.update(dict(r.split("=", 1) for r in args.run))
    result.update(
        machine=machine(("torch", "torch_geometric", "rdkit", "numpy"), args.device),
        device=args.device,
        threads=torch.get_num_threads(),
        load_average_at_start=os.getloadavg(),
        protocol={
            "split": "deterministic scaffold split (Hu et al.), 80/10/10",
            "pretraining": "the default preset of each method on the embedded ZINC (29,445 "
            "molecules, one pass), seed 0; a run's --set overrides are in its pretraining facts",
            "fine_tuning": "Hu et al.: batch 32, Adam 1e-3, dropout 0.5 (mlm: 1e-4, 0.1); the epochs "
            "of each set's row (paper: 100) and its seeds (paper: 10)",
            "probe": "the default task's linear probe on frozen embeddings (pretraining seed 0)",
        },
        published_bbbp=PUBLISHED,
    )
    if not args.no_throughput:
        result["throughput"] = throughput()
    result.setdefault("methods", {})
    datasets = {
        name: load_data(MoleculeData(path=name, pretrain_data="self")) for name in args.datasets
    }
    path = RESULTS / f"{name}.json"
    for method in args.methods:
        embedder, facts = pretrained(method, runs, Path(args.out), args.set, args.device)
        embedder.to(args.device)
        tokens = facts.pop("tokens", None)
        row = result["methods"].setdefault(method, {})
        fresh = method not in ("none", "none-mlm") and method not in runs  # pretrained now
        if not row or fresh or row["pretraining"].get("run") != facts.get("run"):
            row.clear()  # another pretraining run: its old scores do not apply
            row["pretraining"] = facts
        for set_name, data in datasets.items():
            if tokens:  # the molecules as the run's tokens
                config = MoleculeData(path=set_name, pretrain_data="self")
                data = load_data(config, state={"tokens": tokens})
            scores = row.setdefault(set_name, {})
            scores["probe"] = probe(embedder, data, args.device)
            seeds = scores.setdefault("seeds", {})
            lr = FineTuneOptions().lr_for(embedder)
            for other in [k for k, r in seeds.items() if _rate(r) != lr]:
                del seeds[other]  # fine-tuned at another rate: not the same protocol
            for seed in range(args.seed_from, args.seed_from + args.seeds):
                done = seeds.get(str(seed))
                if done and done["epochs"] == args.epochs:
                    continue
                options = FineTuneOptions(epochs=args.epochs, seed=seed)
                ft = fine_tune(embedder, data, options, args.device)
                seeds[str(seed)] = {
                    "epochs": args.epochs,
                    **{k: ft[k] for k in ("test_at_best_val", "test_last", "best_epoch",
                                          "best_val", "cpu_seconds", "wall_seconds", "lr")},
                    "device": args.device,
                }  # fmt: skip
                print(f"{method} {set_name} seed {seed}: best-val {ft['test_at_best_val']:.4f} "
                      f"last {ft['test_last']:.4f} ({ft['cpu_seconds']:.0f} s CPU)", flush=True)  # fmt: skip
                scores.update(_summary(seeds, args.epochs))
                path = write_result(name, result)
            scores.update(_summary(seeds, args.epochs))
            print(method, set_name, scores["probe"], scores.get("fine_tuned_best_val"), flush=True)
            path = write_result(name, result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
