"""Recommendation on Gowalla (LightGCN's split, ../shared/data/recsys/gowalla; not shipped):
Recall@20 / NDCG@20 of lightgcn, sgl, simgcl, xsimgcl and twotower against LightGCN's
published 0.1830 / 0.1554 (He et al. 2020, table 3), with the learning curve (validation
Recall@20 / NDCG@20 and the process's CPU seconds after every epoch, ``--evals-per-epoch``),
the test metrics of the step the validation split chose, the CPU time per epoch projected to
the papers' epoch counts, and the per-step time against a plain PyTorch LightGCN written below
(``torch.sparse.mm`` over a COO adjacency, BPR with uniform negatives, Adam), measured in the
same process; then the FAISS export round trip at Gowalla scale (the FAISS top 20 of sampled
users equals the evaluation's top 20). The test split is scored once, at the chosen step (it
is never looked at during training). Writes ``benchmarks/results/recsys-gowalla-TAG.json``
and the curve as a markdown table (``.md``).

Protocol: ``train.txt`` and ``test.txt`` as LightGCN ships them; 10% of each user's
``train.txt`` interactions are cut as the validation split (``data.val_fraction`` 0.1, random:
Gowalla has no times), which chooses the step; the graph is the other 90%, so the numbers are
not exactly the paper's protocol (which trains on all of ``train.txt`` and picks the best
epoch on the test file). The paper preset: batch 2048, Adam lr 1e-3, emb 64, 3 layers.

    OMP_NUM_THREADS=1 nice uv run python benchmarks/recsys.py --epochs 1
    uv run python benchmarks/recsys.py --methods xsimgcl:6,lightgcn:4 --tag curve
    uv run python benchmarks/recsys.py --methods lightgcn --epochs 0.2 --tag quick

A full run (hundreds of epochs per method) does not fit a shared 2-core CPU: the script
reports the curve it can afford and the projected time (``projected_hours``) at the measured
CPU seconds per epoch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, machine, write_result

GOWALLA = SHARED_DATA / "recsys" / "gowalla"
PAPER = {"recall@20": 0.1830, "ndcg@20": 0.1554}  # LightGCN, Gowalla (He et al. 2020)
# the projection's length: LightGCN-PyTorch's default --epochs (code/parse.py); SELFRec's
# max.epoch for SGL, SimGCL and XSimGCL (conf/*.yaml, batch 2048, lr 1e-3); Yao et al. give none
PAPER_EPOCHS = {"lightgcn": 1000, "sgl": 20, "simgcl": 20, "xsimgcl": 20, "twotower": None}
METHODS = ("lightgcn", "xsimgcl", "simgcl", "sgl", "twotower")


def plain_lightgcn_step_seconds(data, steps: int, dim: int = 64, layers: int = 3) -> float:
    """Seconds a step of a plain PyTorch LightGCN (no sslkit) on the same graph and batch."""
    import torch

    from sslkit.recsys.data import normalized_adjacency

    n_u, n_i = data.n["user"], data.n["item"]
    crow, col, value = normalized_adjacency(*data.rows("fit"), n_u, n_i)
    row = np.repeat(np.arange(n_u + n_i), np.diff(crow))
    adj = torch.sparse_coo_tensor(torch.from_numpy(np.stack([row, col])),
                                  torch.from_numpy(value), (n_u + n_i, n_u + n_i),
                                  check_invariants=False).coalesce()  # fmt: skip
    emb = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_u + n_i, dim)))
    opt = torch.optim.Adam([emb], lr=1e-3)
    fit_u, fit_i = (torch.from_numpy(a) for a in data.rows("fit"))
    times = []
    for s in range(steps + 2):
        start = time.perf_counter()
        idx = torch.randint(0, len(fit_u), (2048,))
        u, p = fit_u[idx], fit_i[idx]
        n = torch.randint(0, n_i, (2048,))
        x, out = emb, [emb]
        for _ in range(layers):
            x = torch.sparse.mm(adj, x)
            out.append(x)
        final = torch.stack(out).mean(0)
        users, items = final[:n_u], final[n_u:]
        loss = torch.nn.functional.softplus(
            (users[u] * items[n]).sum(-1) - (users[u] * items[p]).sum(-1)
        ).mean() + 1e-4 * (emb[u].pow(2).sum() + emb[n_u + p].pow(2).sum()
                           + emb[n_u + n].pow(2).sum()) / 2 / 2048  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def sslkit_step_seconds(method, data, steps: int) -> float:
    """Seconds a training step of an sslkit method (forward, backward, Adam) on batch 2048."""
    import torch

    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    fit_u, fit_i = (torch.from_numpy(a) for a in data.rows("fit"))
    method.train()
    times = []
    for s in range(steps + 2):
        start = time.perf_counter()
        idx = torch.randint(0, len(fit_u), (2048,))
        out = method.training_step({"user": fit_u[idx], "item": fit_i[idx]}, s)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if s >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def curve_rows(points, steps_per_epoch: int) -> list[dict]:
    """The method's validation measurements (:class:`sslkit.recsys.methods.selection.Point`)."""
    return [{"step": int(p.step), "epoch": p.step / steps_per_epoch, "cpu_seconds": p.cpu_seconds,
             "train_cpu_seconds": p.cpu_seconds - p.eval_cpu_seconds,
             "val_recall@20": p.recall, "val_ndcg@20": p.ndcg} for p in points]  # fmt: skip


def train_one(name: str, epochs: float, evals_per_epoch: float, out: Path, tag: str,
              steps_per_epoch: int, timed_steps: int):  # fmt: skip
    from sslkit.core import api

    steps = max(1, round(epochs * steps_per_epoch))
    every = max(1, min(steps, round(steps_per_epoch / evals_per_epoch)))
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = api.pretrain(
        "recsys", name, preset="paper",
        overrides=[f"data.path={GOWALLA / 'train.txt'}", f"data.test_path={GOWALLA / 'test.txt'}",
                   f"train.out={out}", f"train.name={name}-{tag}", "train.quiet=true",
                   "train.device=cpu", f"train.max_steps={steps}",
                   f"method.eval_every={every}"],
    )  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    m = result.metrics
    train_seconds = float(result.seconds)
    # a step alone (forward, backward, Adam; median of timed steps): the run's own seconds
    # also hold the validation measurements
    per_step = sslkit_step_seconds(result.method, result.data, timed_steps)
    curve = curve_rows(getattr(result.method, "curve", []), steps_per_epoch)
    last = curve[-1] if curve else None
    cpu_epoch = last["train_cpu_seconds"] / last["epoch"] if last else float("nan")
    eval_cpu = (last["cpu_seconds"] - last["train_cpu_seconds"]) / len(curve) if last else 0.0
    paper_epochs = PAPER_EPOCHS.get(name)
    row = {
        "method": name,
        "steps": result.steps,
        "epochs": result.steps / steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "train_seconds_with_validation": train_seconds,
        "wall_seconds": wall,
        "process_cpu_seconds": cpu,
        "step_seconds": per_step,
        "seconds_per_epoch": per_step * steps_per_epoch,
        "train_cpu_seconds_per_epoch": cpu_epoch,
        "validation_cpu_seconds_each": eval_cpu,
        "paper_epochs": paper_epochs,
        # training CPU at the measured per-epoch rate plus one validation measurement an epoch
        "projected_cpu_hours_paper_epochs": (cpu_epoch + eval_cpu) * paper_epochs / 3600
        if paper_epochs else None,
        "curve": curve,
        **{k: float(m[k]) for k in ("recall@20", "ndcg@20", "recall@40", "ndcg@40",
                                    "popularity_recall@20", "popularity_ndcg@20",
                                    "control_recall@20", "control_ndcg@20", "val_recall@20",
                                    "selected_step", "coverage@20") if k in m},
    }  # fmt: skip
    row["run_dir"] = str(result.run_dir)
    return row, result


def faiss_round_trip(result, out: Path, users: int = 200) -> dict:
    import faiss

    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.recsys.tasks import _embeddings, faiss_agreement

    t0 = time.perf_counter()
    folder = api.export(result.run_dir, to="faiss", space="item", metric="ip", out=out / "faiss")
    index = faiss.read_index(str(next(Path(folder).rglob("*.faiss"))))
    export_s = time.perf_counter() - t0
    loaded = api.load_run(result.run_dir)
    ctx = TaskContext(loaded.run_dir, loaded.config, loaded.data, loaded.method)
    u, v = _embeddings(ctx)
    data = loaded.data
    sample = np.sort(np.random.default_rng(0).choice(np.unique(data.rows("test")[0]), users,
                                                     replace=False))  # fmt: skip
    bad = faiss_agreement(index, u, v, data, sample)
    return {"users": users, "items": int(index.ntotal), "disagree": len(bad),
            "export_seconds": export_s, "equal": not bad}  # fmt: skip


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated; NAME:EPOCHS sets one method's epochs",
    )
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs per method")
    parser.add_argument("--evals-per-epoch", type=float, default=1.0,
                        help="validation measurements an epoch (at least one a run)")  # fmt: skip
    parser.add_argument("--ratio-steps", type=int, default=10)
    parser.add_argument("--out", default="/tmp/sslkit-bench-recsys")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    if not (GOWALLA / "train.txt").is_file():
        sys.exit(f"skipped: no Gowalla at {GOWALLA} (LightGCN's train.txt / test.txt)")
    torch.set_num_threads(1)
    tag = args.tag or time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out)
    rows, faiss_row, ratio = [], None, None
    from sslkit.recsys.configs import RecsysData
    from sslkit.recsys.data import load_data

    t0 = time.perf_counter()
    data = load_data(RecsysData(path=str(GOWALLA / "train.txt"),
                                test_path=str(GOWALLA / "test.txt")))  # fmt: skip
    load_s = time.perf_counter() - t0
    steps_per_epoch = int(np.ceil(len(data.rows("fit")[0]) / 2048))
    print(
        f"Gowalla: {data.info['users']} users, {data.info['items']} items, "
        f"{data.info['interactions']} interactions, loaded in {load_s:.1f}s; "
        f"{steps_per_epoch} steps an epoch at batch 2048",
        flush=True,
    )
    del data
    for spec in args.methods.split(","):
        name, _, epochs = spec.partition(":")
        row, result = train_one(name, float(epochs or args.epochs), args.evals_per_epoch, out,
                                tag, steps_per_epoch, args.ratio_steps)  # fmt: skip
        print(name, {k: row[k] for k in row if k not in ("curve", "run_dir")}, flush=True)
        for c in row["curve"]:
            print(f"  epoch {c['epoch']:.2f} (step {c['step']}): val Recall@20 "
                  f"{c['val_recall@20']:.4f} NDCG@20 {c['val_ndcg@20']:.4f}, CPU "
                  f"{c['cpu_seconds']:.0f}s ({c['train_cpu_seconds']:.0f}s training)", flush=True)  # fmt: skip
        if name == "lightgcn":
            plain = plain_lightgcn_step_seconds(result.data, args.ratio_steps)
            mine = row["step_seconds"]
            ratio = {"plain_step_seconds": plain, "sslkit_step_seconds": mine,
                     "ratio": mine / plain, "steps": args.ratio_steps}  # fmt: skip
            print("  per-step time against plain PyTorch LightGCN:", ratio, flush=True)
            faiss_row = faiss_round_trip(result, out / f"export-{tag}")
            print("  FAISS round trip:", faiss_row, flush=True)
        rows.append(row)
        write(args, rows, ratio, faiss_row)  # after each method: a stopped run keeps its rows


def write(args, rows: list, ratio: dict | None, faiss_row: dict | None) -> None:
    payload = {"machine": machine(("torch", "numpy", "faiss-cpu")), "paper": PAPER,
               "protocol": "LightGCN's Gowalla train.txt/test.txt; validation = random 10% of "
               "each user's train.txt interactions (chooses the step); graph = the other 90%; "
               "paper preset (batch 2048, Adam 1e-3); one torch thread",
               "epochs_requested": args.epochs, "methods": rows,
               "lightgcn_vs_plain_pytorch": ratio, "faiss_round_trip": faiss_row}  # fmt: skip
    path = write_result(f"recsys-gowalla{'-' + args.tag if args.tag else ''}", payload)
    path.with_suffix(".md").write_text(markdown(rows))
    print("wrote", path, "and", path.with_suffix(".md").name)


def markdown(rows: list) -> str:
    """The learning curves and the test metrics of the chosen step, as markdown tables."""
    lines = [
        "| method | epoch | CPU s (training) | val Recall@20 | val NDCG@20 |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        for c in r["curve"]:
            lines.append(f"| {r['method']} | {c['epoch']:.2f} | {c['cpu_seconds']:.0f} "
                         f"({c['train_cpu_seconds']:.0f}) | {c['val_recall@20']:.4f} | "
                         f"{c['val_ndcg@20']:.4f} |")  # fmt: skip
    lines += ["", "| method | chosen epoch (validation) | test Recall@20 | test NDCG@20 | "
              "training CPU s / epoch | papers' epochs | projected CPU hours |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        hours = r["projected_cpu_hours_paper_epochs"]
        lines.append(f"| {r['method']} | {r['selected_step'] / r['steps_per_epoch']:.2f} | "
                     f"{r['recall@20']:.4f} | {r['ndcg@20']:.4f} | "
                     f"{r['train_cpu_seconds_per_epoch']:.0f} | {r['paper_epochs'] or '-'} | "
                     f"{'-' if hours is None else f'{hours:.1f}'} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
