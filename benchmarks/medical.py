"""Medical benchmark: AdrenalMNIST3D 28^3 test ACC and AUC for every method and for no
pretraining, with a linear probe on frozen embeddings and fine-tuned end to end, at 100%, 10%
and 1% of the training labels, beside MedMNIST v2's ResNets trained from scratch.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice uv run python benchmarks/medical.py \\
        --methods simclr monai-ssl mae --seeds 3 --ft-seeds 3 --ft-epochs 15

Every method is pretrained once (its default preset, seed 0) on the train split. "none" is
each method's encoder untrained (the control) and, fine-tuned, the same network from scratch.
Probes: :mod:`sslkit.medical.tasks` (C on val) on ``--seeds`` label subsamples; fine-tuning:
:func:`sslkit.medical.finetune.finetune` (epoch by val AUC) for ``--ft-seeds`` seeds (the seed
draws the label subsample, the head and the batches). The result file states what was run and
the CPU seconds of each part. Results go to ``benchmarks/results/medical.json`` (``--tag``).

The whole matrix is hours of CPU (a 32^3 UNet or a ViT fine-tuning seed at every fraction is
about 12 minutes of one core), so it accumulates: each fine-tuning seed is written as it ends;
a second call with the same ``--tag`` reuses the file's pretraining runs (while their folders
exist), probes and seeds (for the same ``--ft-epochs``); ``--ft-seed-from K`` starts at seed K
and ``--no-scratch`` leaves the network from scratch to another tag, so two processes can share
the work; ``--table FILE...`` merges the files' seeds into the docs table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, resumed, write_result, write_table

PUBLISHED = {
    "ResNet-18+3D": {"acc": 0.721, "auc": 0.827},
    "ResNet-50+3D": {"acc": 0.745, "auc": 0.828},
    "source": "Yang et al., MedMNIST v2, Sci Data 10:41 (2023), Table 4: trained from scratch "
    "with all labels, 100 epochs, test split",
}
FRACTIONS = (1.0, 0.1, 0.01)


def mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(statistics.fmean(values)),
        "std": float(statistics.stdev(values)) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def _steps(run: str | None) -> int | None:
    """The last step a run's metrics.jsonl records (None without one)."""
    path = Path(run or "/nonexistent", "metrics.jsonl")
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return int(json.loads(lines[-1])["step"]) if lines else None


def pretrain(
    method: str, out: Path, runs: dict[str, str], sets: list[str] = ()
) -> tuple[Any, Any, dict[str, Any]]:
    from sslkit.core import api

    if method in runs:
        loaded = api.load_run(runs[method])
        run, seed = runs[method], loaded.config.train.seed
        return loaded.method, loaded.data, {"run": run, "steps": _steps(run), "seed": seed}
    start, wall = time.process_time(), time.time()
    res = api.pretrain(
        "medical", method, overrides=[*sets, f"train.out={out}", "train.quiet=true"],
        evaluate_default_task=False, log=lambda *_: None,
    )  # fmt: skip
    return res.method, res.data, {
        "run": str(res.run_dir), "steps": res.steps, "seed": res.config.train.seed,
        "cpu_seconds": round(time.process_time() - start, 1),
        "wall_seconds": round(time.time() - wall, 1), "last_loss": res.losses[-1],
    }  # fmt: skip


def embed(encoder: Any, images: Any) -> np.ndarray:
    import torch

    encoder.eval()
    with torch.no_grad():
        return torch.cat([encoder(images[i : i + 256]) for i in range(0, len(images), 256)]).numpy()


def probe(encoder: Any, data: Any, seeds: int) -> dict[str, Any]:
    """Test ACC/AUC of the logistic probe at each label fraction (mean, std over seeds)."""
    X = {s: embed(encoder, data.images[data.split_index(s)]) for s in ("train", "val", "test")}
    return probe_features(X, data, seeds)


def raw_voxels(data: Any, seeds: int) -> dict[str, Any]:
    """The same probe on the raw voxels, average-pooled to 8 per axis (the report's baseline)."""
    from sslkit.medical.baselines import pooled_voxels

    X = {s: pooled_voxels(data.images[data.split_index(s)]) for s in ("train", "val", "test")}
    return probe_features(X, data, seeds)


def probe_features(X: dict[str, np.ndarray], data: Any, seeds: int) -> dict[str, Any]:
    from sslkit.core.evaluate.logistic import fit_logistic
    from sslkit.core.evaluate.payoff import label_subsample
    from sslkit.medical.tasks import MEDICAL_PROBE, scores

    y = {s: data.labels[data.split_index(s), 0].astype(np.int64) for s in X}
    out = {}
    for f in FRACTIONS:
        accs, aucs = [], []
        for seed in range(1 if f == 1.0 else seeds):
            rows = label_subsample(y["train"], f, seed, "classification")
            p = fit_logistic(X["train"][rows], y["train"][rows], MEDICAL_PROBE, seed,
                             val=(X["val"], y["val"]))  # fmt: skip
            res = scores(y["test"], p.predict_proba(X["test"]))
            accs.append(res["acc"])
            aucs.append(res["auc"])
        out[str(f)] = {"acc": mean_std(accs), "auc": mean_std(aucs)}
    return out


def _stats(block: dict[str, Any]) -> None:
    """A fraction's ``acc``, ``auc``, ``val_auc`` (mean, std, n) and CPU seconds over its seeds
    fine-tuned for the most epochs."""
    runs = list(block.get("seeds", {}).values())
    if not runs:
        return
    most = max(r["epochs_asked"] for r in runs)
    runs = [r for r in runs if r["epochs_asked"] == most]
    for key in ("acc", "auc", "val_auc"):
        block[key] = mean_std([r[key] for r in runs])
    block["cpu_seconds"] = round(sum(r["cpu_seconds"] for r in runs), 1)
    block["lr"] = runs[-1]["lr"]


def _seeded(block: dict[str, Any]) -> dict[str, Any] | None:
    """The block's seeds by seed, or None for a block written before seeds were kept (its
    mean and std stand as they are and take no more seeds)."""
    if "acc" in block and "seeds" not in block:
        return None
    return block.setdefault("seeds", {})


def finetune_all(
    encoder: Any, data: Any, seeds: range, epochs: int, fractions, out: dict[str, Any], save
) -> dict[str, Any]:
    """Fine-tune at each label fraction for each of ``seeds`` into ``out`` (per fraction:
    ``seeds`` by seed, and :func:`_stats`); a seed ``out`` holds for ``epochs`` is skipped, and
    ``save()`` runs after each seed, so a stopped benchmark keeps what it measured."""
    from sslkit.medical.finetune import finetune

    for f in fractions:
        block = out.setdefault(str(f), {})
        done = _seeded(block)
        if done is None:
            print(f"  {f:.0%}: kept as it is (several seeds written before seeds were kept)")
            continue
        for seed in seeds:
            if done.get(str(seed), {}).get("epochs_asked") == epochs:
                continue
            cpu = time.process_time()
            r = finetune(encoder, data, fraction=f, seed=seed, epochs=epochs)
            done[str(seed)] = {
                **{k: r[k] for k in ("acc", "auc", "val_auc", "best_epoch", "lr")},
                "epochs_asked": epochs,
                "cpu_seconds": round(time.process_time() - cpu, 1),
            }
            print(f"  fine-tune {f:.0%} seed {seed}: acc {r['acc']:.4f} auc {r['auc']:.4f} "
                  f"(best epoch {r['best_epoch']:.0f})", flush=True)  # fmt: skip
            _stats(block)
            save()
    return out


def merged(results: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Per method and pretraining run, its rows of ``results`` with the fine-tuning seeds of
    every file (later files add seeds to the same run; another run of the method, a longer
    one say, is a row of its own; a block without seeds, from before they were kept, is taken
    as it is). Keys: ``(method, run)``."""
    import copy

    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for result in results:
        for method, row in result["methods"].items():
            key = (method, row["pretraining"].get("run"))
            if key not in out:
                out[key] = copy.deepcopy(row)
                continue
            into = out[key]
            for key in ("finetuned", "scratch"):
                for f, block in row.get(key, {}).items():
                    target = into.setdefault(key, {}).setdefault(f, {})
                    mine, theirs = _seeded(target), _seeded(copy.deepcopy(block))
                    if mine is None or theirs is None:  # several seeds, not kept one by one
                        continue
                    mine.update(theirs)
                    _stats(target)
    return out


def row_name(method: str, facts: dict[str, Any]) -> str:
    """A pretraining run's table name: the method, its steps and its seed when not 0."""
    steps = facts.get("steps") or _steps(facts.get("run"))
    seed = facts.get("seed")  # recorded since pretraining seeds other than 0 were run
    name = f"{method} ({steps} steps{f', pretraining seed {seed}' if seed else ''})"
    return name if steps else method


def _network(row: dict[str, Any]) -> str:
    return repr(sorted(row.get("encoder", {}).items()))


def paired_lines(rows: dict[tuple[str, str | None], dict[str, Any]]) -> list[str]:
    """Each pretrained run fine-tuned against the same network from scratch, per label
    fraction, on the seeds both hold for the same epochs (a seed draws the label subsample, the
    head and the batches of both): the mean per-seed test AUC difference ± its standard error
    (core's ``paired_text``), t, and how many seeds are better. The from-scratch seeds are the
    row's own or, where it has none, another row's with the same encoder (the network from
    scratch depends on its spec and the seed only: mae's ViT is monai-ssl's)."""
    from sslkit.core.evaluate.payoff import paired_text

    pool: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows.values():
        for f, block in row.get("scratch", {}).items():
            pool.setdefault((_network(row), f), {}).update(block.get("seeds", {}))
    lines = []
    for (method, _), row in rows.items():
        for f, block in sorted(row.get("finetuned", {}).items(), key=lambda kv: -float(kv[0])):
            mine = block.get("seeds", {})
            own = row.get("scratch", {}).get(f, {}).get("seeds", {})
            base = {**pool.get((_network(row), f), {}), **own}
            common = sorted((s for s in set(mine) & set(base)
                             if mine[s]["epochs_asked"] == base[s]["epochs_asked"]), key=int)  # fmt: skip
            if len(common) < 2:
                continue
            a, b = [mine[s]["auc"] for s in common], [base[s]["auc"] for s in common]
            text = paired_text(a, b, "the same network from scratch")
            lines.append(f"{row_name(method, row['pretraining'])} {float(f):.0%}: AUC {text}")
    return lines


def _cell(block: dict[str, Any] | None, f: str) -> str:
    if not block or f not in block:
        return "-"
    acc, auc = block[f]["acc"], block[f]["auc"]
    sd = f" ± {acc['std']:.3f} / {auc['std']:.3f}" if acc["n"] > 1 else ""
    return f"{acc['mean']:.3f} / {auc['mean']:.3f}{sd} (n={acc['n']})"


def table(results: list[dict[str, Any]], marker: str = "medical-benchmark") -> None:
    """The docs table (docs/medical.md, between the ``marker`` lines) of one or more result
    files."""
    rows = []
    for result in results:
        if "raw_voxels" in result:
            rows.append(["none", "probe, raw voxels (8^3)",
                         *[_cell(result["raw_voxels"], str(f)) for f in FRACTIONS]])  # fmt: skip
            break
    rows_by_run = merged(results)
    for (method, _), row in rows_by_run.items():
        name = row_name(method, row["pretraining"])
        for label, key in (("probe, pretrained", "probe"), ("probe, untrained", "probe_untrained"),
                           ("fine-tuned, pretrained", "finetuned"),
                           ("fine-tuned, from scratch", "scratch")):  # fmt: skip
            if key in row:
                rows.append([name, label, *[_cell(row[key], str(f)) for f in FRACTIONS]])
    for name in ("ResNet-18+3D", "ResNet-50+3D"):
        p = PUBLISHED[name]
        rows.append(
            [f"MedMNIST v2 {name}", "from scratch", f"{p['acc']:.3f} / {p['auc']:.3f}", "-", "-"]
        )
    header = ["method", "features", "100% labels ACC / AUC", "10%", "1%"]
    write_table("medical.md", marker, rows, header)
    for line in paired_lines(rows_by_run):
        print(line)


def _data_config(sets: list[str]) -> Any:
    """The ``[data]`` of the ``--set data.*`` overrides, resolved as a run resolves them."""
    from sslkit.core.config import build_run_config
    from sslkit.medical.plugin import plugin

    data_sets = [s for s in sets if s.strip().startswith("data.")]
    return build_run_config(plugin, "simclr", overrides=data_sets).data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["simclr", "monai-ssl", "mae"])
    parser.add_argument("--seeds", type=int, default=3, help="probe label subsamples")
    parser.add_argument("--ft-seeds", type=int, default=3)
    parser.add_argument("--ft-seed-from", type=int, default=0, help="the first fine-tuning seed")
    parser.add_argument(
        "--no-scratch",
        action="store_true",
        help="skip the network from scratch (another tag has it)",
    )
    parser.add_argument("--ft-epochs", type=int, default=15)
    parser.add_argument("--ft-fractions", nargs="+", type=float, default=list(FRACTIONS))
    parser.add_argument("--ft-methods", nargs="*", default=None, help="fine-tune only these")
    parser.add_argument("--run", action="append", default=[], help="method=run_dir to reuse")
    parser.add_argument("--out", default="runs/benchmark-medical")
    parser.add_argument("--tag", default="")
    parser.add_argument("--set", action="append", default=[], help="pretraining override")
    parser.add_argument("--table", nargs="*", default=[], help="only write the docs table")
    parser.add_argument("--add-raw", action="store_true", help="with --table: add raw voxels")
    parser.add_argument("--marker", default=None, help="the docs table (another data set)")
    args = parser.parse_args()
    data_config = _data_config(args.set)  # the raw-voxel baseline reads the runs' data
    if data_config.path and not args.marker:
        parser.error("--set data.path=... needs --marker NAME: the docs table of that data set")
    args.marker = args.marker or "medical-benchmark"
    if args.table:
        results = [json.loads(Path(t).read_text()) for t in args.table]
        if args.add_raw:
            from sslkit.medical.data import load_data

            results[0]["raw_voxels"] = raw_voxels(load_data(data_config), args.seeds)
            text = json.dumps(results[0], indent=2, sort_keys=True) + "\n"
            Path(args.table[0]).write_text(text)
        table(results, args.marker)
        return

    import torch

    from sslkit.medical.data import load_data
    from sslkit.medical.finetune import fresh_encoder

    name = "medical" + (f"-{args.tag}" if args.tag else "")
    result, runs = resumed(name)
    runs.update(dict(r.split("=", 1) for r in args.run))
    ft_methods = args.methods if args.ft_methods is None else args.ft_methods
    seeds = range(args.ft_seed_from, args.ft_seed_from + args.ft_seeds)
    result.update(
        machine=machine(("torch", "monai", "numpy", "scikit-learn")),
        threads=torch.get_num_threads(),
        load_average_at_start=os.getloadavg(),
        protocol={
            "data": data_config.path or "AdrenalMNIST3D 28^3 (embedded), official split",
            "pretraining": "default preset of each method, seed 0, train split only; "
            f"overrides {args.set}",
            "probe": f"logistic, C by val log-loss; {args.seeds} label subsamples below 100%",
            "fine_tuning": "encoder + linear head, Adam 1e-3 (ViT: 1e-4) cosine, flips, "
            f"{args.ft_epochs} epochs (at least 100 steps), epoch by val AUC; seeds {list(seeds)} "
            f"in this call, fractions {args.ft_fractions}, methods {ft_methods}",
        },
        published=PUBLISHED,
    )
    result.setdefault("methods", {})
    data = load_data(data_config)
    if "raw_voxels" not in result:
        result["raw_voxels"] = raw_voxels(data, args.seeds)
    save = lambda: write_result(name, result)  # noqa: E731
    for method in args.methods:
        print(f"{method}: pretraining", flush=True)
        reused = method in runs
        m, own, facts = pretrain(method, Path(args.out), runs, args.set)
        own = own if own is not None else data  # the run's preprocessing (global-local: 32^3)
        row = result["methods"].get(method)
        if row is None or not reused or row["pretraining"].get("run") != facts.get("run"):
            row = result["methods"][method] = {"pretraining": facts}  # a new run: new scores
        row["encoder"] = m.encoder_spec()["kwargs"]
        control = fresh_encoder(m, 0)
        if "probe" not in row:
            cpu = time.process_time()
            row["probe"] = probe(m.embedder(), own, args.seeds)
            row["probe_untrained"] = probe(control, own, args.seeds)
            row["probe_cpu_seconds"] = round(time.process_time() - cpu, 1)
        print(f"{method}: probe {row['probe']['1.0']} untrained {row['probe_untrained']['1.0']}",
              flush=True)  # fmt: skip
        path = save()
        if method in ft_methods:
            plan = (seeds, args.ft_epochs, args.ft_fractions)
            finetune_all(m.embedder(), own, *plan, row.setdefault("finetuned", {}), save)
            if args.no_scratch:
                continue
            same = [r["scratch"] for r in result["methods"].values()
                    if "scratch" in r and _network(r) == _network(row)]  # fmt: skip
            row["scratch"] = same[0] if same else {}  # one from-scratch row per network
            print(f"{method}: the same network from scratch", flush=True)
            finetune_all(control, own, *plan, row["scratch"], save)
        path = save()
    table([result], args.marker)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
