"""Graphs benchmark: quality on Cora and co-citation Cora, speed of GRACE, mini-batch scale.

    uv run python benchmarks/graphs.py                      # everything, 10 seeds
    uv run python benchmarks/graphs.py --seeds 2 --parts speed,minibatch
    uv run python benchmarks/graphs.py --parts quality --methods dgi,grace --seeds 3

Parts (``--parts``, comma-separated):

- ``quality``: for every node-level method (DGI, GRACE, MVGRL, BGRL, GraphMAE), pretrain on the
  embedded Cora with the method's shipped preset (``sslkit.core.api.pretrain``) and score a
  logistic probe on frozen embeddings on the public split (140/500/1000), over ``--seeds``
  seeds, beside each paper's number. CPU time (process time) to reach the number is recorded.
- ``hyper``: on co-citation Cora, HypeBoy and TriCL (pretrain + probe on each of the 10 given
  splits) against a supervised two-layer HypergraphConv network trained on the same splits.
- ``speed``: GRACE's epoch time on Cora against a straightforward PyG implementation of the
  same model written below (GCNConv encoder, ELU projection, the paper's loss), same run.
- ``minibatch``: GRACE in mini-batch mode (neighbour sampling) on a generated graph of
  200,000 nodes and >= 1,000,000 edges; time per step and peak resident memory (a subprocess).

Writes ``benchmarks/results/graphs.json`` (merging parts run separately) and the table in
``docs/graphs.md`` (between the ``BENCHMARK`` markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "graphs.json"
DOC = ROOT / "docs" / "graphs.md"

PAPER = {  # Cora public split, linear probe on frozen embeddings (%)
    "dgi": (82.3, "Veličković et al. 2019"),
    "bgrl": (82.7, "GraphMAE's table (Hou et al. 2022)"),
    "grace": (81.9, "GraphMAE's public-split re-run (paper: 83.3 on random splits)"),
    "graphmae": (84.2, "Hou et al. 2022"),
    "mvgrl": (83.5, "GraphMAE's re-run (paper: 86.8)"),
}
NODE_METHODS = ["dgi", "grace", "mvgrl", "bgrl", "graphmae"]


def _machine() -> dict:
    import torch
    import torch_geometric

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "load_average_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------------------------
# quality


def _pretrain(method: str, seed: int, out: Path, extra: list[str]):
    from sslkit.core import api

    return api.pretrain(
        "graphs",
        method,
        overrides=[
            f"train.seed={seed}",
            f"train.out={out}",
            f"train.name={method}-{seed}-{time.time_ns()}",
            "train.quiet=true",
            "train.device=cpu",
            *extra,
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )


def _embeddings(run_dir: Path):
    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import embed_split

    loaded = api.load_run(run_dir)
    return loaded.data, embed_split(loaded.method, loaded.data, "all")


def quality(
    methods: list[str],
    seeds: int,
    extra: list[str],
    on_seed=lambda out: None,
    first_seed: int = 0,
    previous: dict | None = None,
) -> dict:
    """Seeds ``first_seed .. first_seed + seeds - 1``; with ``first_seed > 0`` the seeds
    ``0 .. first_seed - 1`` of ``previous`` (the saved results, same overrides) are kept."""
    import torch

    from sslkit.graphs.tasks import probe_accuracy, probe_features

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            accs, cpu, wall = [], [], []
            before = (previous or {}).get(method)
            if first_seed:
                if (
                    not before
                    or before.get("seeds", 0) < first_seed
                    or before.get("overrides") != extra
                ):
                    raise SystemExit(
                        f"--first-seed {first_seed}: the saved {method} results do not hold "
                        f"seeds 0..{first_seed - 1} with the overrides {extra}"
                    )
                accs = list(before["accs"][:first_seed])
                # per-seed times where saved; older results hold only their means
                n = before["seeds"]
                cpu = before.get("cpu_seconds", [before["cpu_seconds_per_seed"]] * n)[:first_seed]
                wall = before.get("wall_seconds", [before["wall_seconds_per_seed"]] * n)[
                    :first_seed
                ]
            for seed in range(first_seed, first_seed + seeds):
                c0, w0 = time.process_time(), time.perf_counter()
                res = _pretrain(method, seed, Path(tmp), extra)
                data, emb = _embeddings(res.run_dir)
                idx = {k: torch.nonzero(m).view(-1).numpy() for k, m in data.masks.items()}
                r = probe_accuracy(
                    probe_features(emb.X),
                    np.asarray(emb.y),
                    idx["train"],
                    idx["test"],
                    idx["val"],
                    seed,
                )
                accs.append(100 * r["test_acc"])
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                print(
                    f"{method} seed {seed}: {accs[-1]:.1f}% ({cpu[-1]:.0f} s CPU, "
                    f"{wall[-1]:.0f} s wall, {res.steps} steps)",
                    flush=True,
                )
                paper, source = PAPER[method]
                out[method] = {
                    "public_test_acc_mean": float(np.mean(accs)),
                    "public_test_acc_std": float(np.std(accs)),
                    "seeds": len(accs),
                    "accs": accs,
                    "epochs": res.steps,  # full-graph steps (presets state train.steps)
                    "paper": paper,
                    "paper_source": source,
                    "gap_to_paper": float(np.mean(accs) - paper),
                    "cpu_seconds_per_seed": float(np.mean(cpu)),
                    "wall_seconds_per_seed": float(np.mean(wall)),
                    "cpu_seconds": [float(c) for c in cpu],
                    "wall_seconds": [float(w) for w in wall],
                    "overrides": extra,
                    "torch_threads": torch.get_num_threads(),
                }
                on_seed(out)
    return out


# ---------------------------------------------------------------------------------------------
# hypergraphs


def supervised_hgnn(data, k: int, seed: int, epochs: int = 200) -> float:
    """Two HypergraphConv layers (hidden 64, dropout 0.5, Adam lr 0.01, weight decay 5e-4),
    trained on split ``k``'s training nodes, test accuracy at the last epoch."""
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import HypergraphConv

    from sslkit.graphs.encoders import with_node_loops

    torch.manual_seed(seed)
    g = data.graph
    hi, m = with_node_loops(g.hyperedge_index, g.num_nodes, g.num_hyperedges, "isolated")
    c1, c2 = HypergraphConv(g.x.size(1), 64), HypergraphConv(64, int(g.y.max()) + 1)
    params = list(c1.parameters()) + list(c2.parameters())
    opt = torch.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    tr, te = data.split_nodes("train", k), data.split_nodes("test", k)

    def forward(train: bool):
        h = F.dropout(g.x, 0.5, train)
        h = F.relu(c1(h, hi, num_edges=m))
        h = F.dropout(h, 0.5, train)
        return c2(h, hi, num_edges=m)

    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(forward(True)[tr], g.y[tr]).backward()
        opt.step()
    with torch.no_grad():
        return float((forward(False)[te].argmax(1) == g.y[te]).float().mean())


def hyper(seeds: int, methods: list[str]) -> dict:
    from sslkit.graphs.configs import GraphData
    from sslkit.graphs.data import load_data
    from sslkit.graphs.tasks import probe_accuracy, probe_features

    out: dict = {}
    data = load_data(GraphData(path="cocitation-cora", normalize="none"))
    splits = len(data.splits)
    c0 = time.process_time()
    sup = [supervised_hgnn(data, k, seed=k) for k in range(splits)]
    out["hypergraphconv_supervised"] = {
        "test_acc_mean": 100 * float(np.mean(sup)),
        "test_acc_std": 100 * float(np.std(sup)),
        "splits": splits,
        "cpu_seconds": time.process_time() - c0,
    }
    print(
        f"supervised HypergraphConv: {100 * np.mean(sup):.1f} ± {100 * np.std(sup):.1f}", flush=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            per_seed, cpu = [], []
            for seed in range(seeds):
                c0 = time.process_time()
                res = _pretrain(method, seed, Path(tmp), [])
                d, emb = _embeddings(res.run_dir)
                x, y = probe_features(emb.X), np.asarray(emb.y)
                accs = [
                    probe_accuracy(
                        x,
                        y,
                        d.split_nodes("train", k).numpy(),
                        d.split_nodes("test", k).numpy(),
                        None,
                        seed,
                    )["test_acc"]
                    for k in range(splits)
                ]
                per_seed.append(100 * float(np.mean(accs)))
                cpu.append(time.process_time() - c0)
                print(
                    f"{method} seed {seed}: {per_seed[-1]:.1f}% over {splits} splits "
                    f"({cpu[-1]:.0f} s CPU)",
                    flush=True,
                )
            out[method] = {
                "test_acc_mean": float(np.mean(per_seed)),
                "test_acc_std_over_seeds": float(np.std(per_seed)),
                "seeds": seeds,
                "splits": splits,
                "cpu_seconds_per_seed": float(np.mean(cpu)),
            }
    return out


# ---------------------------------------------------------------------------------------------
# speed: GRACE against a straightforward PyG implementation of the same model


def _reference_grace(in_dim: int):
    """GRACE as the authors' model.py writes it, on PyG layers (the comparison peer)."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch_geometric.nn import GCNConv

    class Ref(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = GCNConv(in_dim, 256), GCNConv(256, 128)
            self.fc1, self.fc2 = nn.Linear(128, 128), nn.Linear(128, 128)

        def encode(self, x, ei):
            return F.relu(self.c2(F.relu(self.c1(x, ei)), ei))

        def proj(self, z):
            return self.fc2(F.elu(self.fc1(z)))

        def semi(self, z1, z2, tau=0.4):
            f = lambda s: torch.exp(s / tau)  # noqa: E731
            refl = f(F.normalize(z1) @ F.normalize(z1).t())
            between = f(F.normalize(z1) @ F.normalize(z2).t())
            return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))

        def loss(self, z1, z2):
            h1, h2 = self.proj(z1), self.proj(z2)
            return ((self.semi(h1, h2) + self.semi(h2, h1)) * 0.5).mean()

    return Ref()


def speed(epochs: int = 10) -> dict:
    import torch
    from torch_geometric.utils import dropout_edge

    from sslkit.graphs.configs import GRACEConfig
    from sslkit.graphs.data import load_data
    from sslkit.graphs.methods.grace import GRACE

    data = load_data()
    g = data.graph
    torch.manual_seed(0)
    ours = GRACE(GRACEConfig(), g.x.size(1))
    ref = _reference_grace(g.x.size(1))
    o1 = torch.optim.Adam(ours.parameters(), lr=5e-4)
    o2 = torch.optim.Adam(ref.parameters(), lr=5e-4, weight_decay=1e-5)

    def drop_feature(x, p):
        mask = torch.empty((x.size(1),)).uniform_(0, 1) < p
        x = x.clone()
        x[:, mask] = 0
        return x

    def step_ours():
        o1.zero_grad()
        ours.training_step(g, 0)["loss"].backward()  # GRACE has no schedule
        o1.step()

    def step_ref():
        o2.zero_grad()
        e1 = dropout_edge(g.edge_index, p=0.2)[0]
        e2 = dropout_edge(g.edge_index, p=0.4)[0]
        z1 = ref.encode(drop_feature(g.x, 0.3), e1)
        z2 = ref.encode(drop_feature(g.x, 0.4), e2)
        ref.loss(z1, z2).backward()
        o2.step()

    step_ours(), step_ref()  # warm-up
    t_ours, t_ref = [], []
    for _ in range(epochs):  # interleaved, so that load from other processes hits both alike
        for fn, acc in ((step_ours, t_ours), (step_ref, t_ref)):
            c = time.process_time()
            fn()
            acc.append(time.process_time() - c)
    a, b = float(np.median(t_ours)), float(np.median(t_ref))
    return {
        "epochs_timed": epochs,
        "sslkit_grace_cpu_s_per_epoch": a,
        "pyg_reference_cpu_s_per_epoch": b,
        "ratio_sslkit_over_reference": a / b,
        "clock": "process CPU time, median over epochs, interleaved",
    }


# ---------------------------------------------------------------------------------------------
# mini-batch on a generated graph with >= 1M edges (subprocess: its own peak memory)


def minibatch_child(nodes: int, edges: int, steps: int, batch: int) -> dict:
    import torch
    from torch_geometric.data import Data

    from sslkit.graphs.configs import GRACEConfig, GraphData
    from sslkit.graphs.data import from_pyg
    from sslkit.graphs.methods.grace import GRACE

    gen = torch.Generator().manual_seed(0)
    # a power-law-ish random graph: endpoints drawn with probability ~ 1/rank^0.5
    w = 1.0 / torch.arange(1, nodes + 1).float().pow(0.5)
    src = torch.multinomial(w, edges, replacement=True, generator=gen)
    dst = torch.randint(0, nodes, (edges,), generator=gen)
    x = torch.randn(nodes, 64, generator=gen)
    t0 = time.perf_counter()
    data = from_pyg(
        Data(x=x, edge_index=torch.stack([src, dst])),
        GraphData(batching="minibatch", num_neighbors=(10, 10), normalize="none"),
    )
    load_s = time.perf_counter() - t0
    method = GRACE(GRACEConfig(), 64)
    opt = torch.optim.Adam(method.parameters(), lr=5e-4)
    loader = torch.utils.data.DataLoader(
        data.train_dataset(), batch_size=batch, shuffle=True, collate_fn=data.collate
    )
    times, sizes = [], []
    it = iter(loader)
    for step in range(steps):
        c = time.perf_counter()
        b = next(it)
        opt.zero_grad()
        method.training_step(b, step)["loss"].backward()
        opt.step()
        times.append(time.perf_counter() - c)
        sizes.append((int(b.num_nodes), int(b.edge_index.size(1))))
    peak_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    from sslkit.graphs.data.sampler import pyg_sampling_available

    return {
        "nodes": nodes,
        "edges_directed_after_cleaning": int(data.info["num_edges"]),
        "generated_edges": edges,
        "batch_seed_nodes": batch,
        "num_neighbors": [10, 10],
        "sampler": "pyg NeighborLoader" if pyg_sampling_available() else "built-in",
        "steps": steps,
        "load_and_clean_s": load_s,
        "wall_s_per_step_median": float(np.median(times)),
        "mean_subgraph_nodes": float(np.mean([s[0] for s in sizes])),
        "mean_subgraph_edges": float(np.mean([s[1] for s in sizes])),
        "peak_rss_mb": peak_kb / 1024,
    }


def minibatch(steps: int) -> dict:
    cmd = [sys.executable, __file__, "--child-minibatch", str(steps)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# output


def write_doc(results: dict) -> None:
    lines = ["<!-- BENCHMARK:START (written by benchmarks/graphs.py) -->", ""]
    q = results.get("quality", {})
    if q:
        lines += [
            "| method | Cora public-split accuracy (%) | seeds | epochs | paper | gap | CPU s / seed |",
            "|---|---|---|---|---|---|---|",
        ]
        for m in NODE_METHODS:
            if m in q:
                r = q[m]
                lines.append(
                    f"| {m} | {r['public_test_acc_mean']:.1f} ± {r['public_test_acc_std']:.1f} "
                    f"| {r['seeds']} | {r['epochs']} | {r['paper']} ({r['paper_source']}) "
                    f"| {r['gap_to_paper']:+.1f} | {r['cpu_seconds_per_seed']:.0f} |"
                )
        lines.append("")
    h = results.get("hyper", {})
    if h:
        lines += [
            "| co-citation Cora (10 given splits) | test accuracy (%) | seeds | CPU s / seed |",
            "|---|---|---|---|",
        ]
        s = h.get("hypergraphconv_supervised")
        if s:
            lines.append(
                f"| HypergraphConv, supervised | {s['test_acc_mean']:.1f} ± "
                f"{s['test_acc_std']:.1f} (over splits) | - | {s['cpu_seconds']:.0f} (10 splits) |"
            )
        for m in ("hypeboy", "tricl"):
            if m in h:
                r = h[m]
                lines.append(
                    f"| {m} + logistic probe | {r['test_acc_mean']:.1f} ± "
                    f"{r['test_acc_std_over_seeds']:.1f} (over seeds) | {r['seeds']} | "
                    f"{r['cpu_seconds_per_seed']:.0f} |"
                )
        lines.append("")
    sp = results.get("speed")
    if sp:
        lines += [
            f"GRACE epoch on Cora: {sp['sslkit_grace_cpu_s_per_epoch']:.3f} s (sslkit) vs "
            f"{sp['pyg_reference_cpu_s_per_epoch']:.3f} s (plain PyG implementation), ratio "
            f"{sp['ratio_sslkit_over_reference']:.2f} ({sp['clock']}).",
            "",
        ]
    mb = results.get("minibatch")
    if mb:
        lines += [
            f"Mini-batch GRACE on a generated graph of {mb['nodes']:,} nodes and "
            f"{mb['edges_directed_after_cleaning']:,} directed edges ({mb['sampler']} sampler, "
            f"{mb['batch_seed_nodes']} seeds, fan-out 10-10): {mb['wall_s_per_step_median']:.2f}"
            f" s per step, peak memory {mb['peak_rss_mb']:.0f} MB.",
            "",
        ]
    m = results.get("machine", {})
    lines += [
        f"Machine: {m.get('platform', '?')}, {m.get('cpus', '?')} CPUs shared with other jobs "
        f"(load average at start {m.get('load_average_at_start', '?')}), torch "
        f"{m.get('torch', '?')} with {m.get('torch_threads', '?')} threads, PyG "
        f"{m.get('torch_geometric', '?')}.",
        "",
        "<!-- BENCHMARK:END -->",
    ]
    block = "\n".join(lines)
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else "# Graphs\n"
    start, end = "<!-- BENCHMARK:START", "<!-- BENCHMARK:END -->"
    if start in text and end in text:
        a = text.index(start)
        b = text.index(end) + len(end)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip() + "\n\n## Benchmark\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--parts", default="quality,hyper,speed,minibatch")
    ap.add_argument("--methods", default=",".join(NODE_METHODS))
    ap.add_argument("--hyper-methods", default="hypeboy,tricl")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="continue a quality run: keep the saved seeds below this one, run the next --seeds",
    )
    ap.add_argument("--set", action="append", default=[], help="extra key=value for quality runs")
    ap.add_argument("--speed-epochs", type=int, default=10)
    ap.add_argument("--minibatch-steps", type=int, default=20)
    ap.add_argument("--child-minibatch", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (1 lets two quality runs share this 2-core machine)",
    )
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.child_minibatch:
        print(json.dumps(minibatch_child(200_000, 1_100_000, args.child_minibatch, 512)))
        return
    machine = _machine()
    parts = args.parts.split(",")

    def load() -> dict:
        return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}

    def save(part: str, update: dict, merge: bool = True) -> None:
        # re-read first, so two runs of this script (other methods) do not undo each other
        results = load()
        results["machine"] = machine
        if merge:
            results.setdefault(part, {}).update(update)
        else:
            results[part] = update
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        write_doc(results)

    if "speed" in parts:
        out = speed(args.speed_epochs)
        print("speed", out, flush=True)
        save("speed", out, merge=False)
    if "minibatch" in parts:
        out = minibatch(args.minibatch_steps)
        print("minibatch", out, flush=True)
        save("minibatch", out, merge=False)
    if "quality" in parts:
        for m in args.methods.split(","):
            quality(
                [m],
                args.seeds,
                args.set,
                on_seed=lambda out: save("quality", out),
                first_seed=args.first_seed,
                previous=load().get("quality"),
            )
    if "hyper" in parts:
        for m in args.hyper_methods.split(","):
            save("hyper", hyper(args.seeds, [m]))


if __name__ == "__main__":
    main()
