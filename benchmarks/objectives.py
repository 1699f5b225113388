"""Speed and memory of sslkit's objectives against lightly and pytorch-metric-learning.

    uv run --group bench python benchmarks/objectives.py [--quick] [--threads 1] [--device cpu]

Each (loss, implementation, size) case runs in a fresh subprocess: forward + backward on random
embeddings, timed as the median of repeats after one warm-up; peak memory is the process's peak
RSS (``resource.getrusage(...).ru_maxrss``) minus its RSS right before the first forward, both
via psutil/resource in that subprocess (on CUDA: ``torch.cuda.max_memory_allocated`` delta).
Writes ``benchmarks/results/objectives.json`` and the table in ``docs/objectives.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "objectives.json"
DOC = ROOT / "docs" / "objectives.md"

NTXENT_BATCHES = (256, 1024, 4096)
CASE_TIMEOUT_S = 240
MEM_CAP_GIB = 14


def _make(loss: str, impl: str, size: int, device: str):
    import torch

    g = torch.Generator().manual_seed(0)
    if loss == "ntxent":
        z = torch.randn(size, 2, 128, generator=g).to(device).requires_grad_(True)
        if impl == "sslkit":
            from sslkit.core.objectives import InfoNCE

            fn = InfoNCE(temperature=0.1)
            return z, lambda: fn(z)
        if impl == "lightly":
            from lightly.loss import NTXentLoss

            fn = NTXentLoss(temperature=0.1)
            return z, lambda: fn(z[:, 0], z[:, 1])
        from pytorch_metric_learning.losses import NTXentLoss

        fn = NTXentLoss(temperature=0.1)
        lab = torch.arange(size, device=device).repeat(2)
        return z, lambda: fn(torch.cat([z[:, 0], z[:, 1]]), lab)
    if loss in ("barlow", "vicreg"):
        z = torch.randn(size, 2, 2048, generator=g).to(device).requires_grad_(True)
        if impl == "sslkit":
            from sslkit.core.objectives import BarlowTwins, VICReg

            fn = BarlowTwins() if loss == "barlow" else VICReg()
            return z, lambda: fn(z)
        from lightly.loss import BarlowTwinsLoss, VICRegLoss

        fn = BarlowTwinsLoss() if loss == "barlow" else VICRegLoss()
        return z, lambda: fn(z[:, 0], z[:, 1])
    if loss == "dino":
        k = 65536 // 4
        s = torch.randn(size, 6, k, generator=g).to(device).requires_grad_(True)
        t = torch.randn(size, 2, k, generator=g).to(device)
        if impl == "sslkit":
            from sslkit.core.objectives import DINOLoss

            fn = DINOLoss(k).to(device)
            return s, lambda: fn(s, t)
        from lightly.loss import DINOLoss

        fn = DINOLoss(output_dim=k, warmup_teacher_temp_epochs=1).to(device)
        return s, lambda: fn(list(t.unbind(1)), list(s.unbind(1)))
    raise ValueError(loss)


def run_case(loss: str, impl: str, size: int, repeats: int, device: str) -> dict:
    import psutil
    import torch

    proc = psutil.Process()
    x, step = _make(loss, impl, size, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def once():
        x.grad = None
        out = step()
        out.backward()
        sync()

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        once()
        mem = torch.cuda.max_memory_allocated() - base
    else:
        base = proc.memory_info().rss
        once()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        mem = max(0, peak - base)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "times_s": times, "peak_mem_bytes": int(mem)}


def _sub(loss, impl, size, repeats, device, threads) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--case", loss, impl, str(size), str(repeats), device]

    def limit():  # an allocation beyond this fails cleanly instead of swapping a shared machine
        cap = MEM_CAP_GIB * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    # not on CUDA: its driver reserves far more address space than any cap (cudaGetDeviceCount
    # fails under one), and GPU memory is not what the cap protects
    cap = None if device.startswith("cuda") else limit
    try:
        p = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=CASE_TIMEOUT_S, preexec_fn=cap
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {CASE_TIMEOUT_S} s"}
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": err[-300:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "lightly", "pytorch-metric-learning", "sslkit-core"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def _machine(device: str, threads: int) -> dict:
    import psutil
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    m = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "device": device,
        "threads": threads,
        "os": platform.platform(),
    }
    if device.startswith("cuda"):
        m["gpu"] = torch.cuda.get_device_name(0)
    return m


def _fmt_mem(b):
    return f"{b / 2**20:.0f} MiB" if b is not None else "n/a"


def table(res: dict) -> str:
    lines = [
        f"Measured on {res['machine']['cpu']} ({res['machine']['device']}, "
        f"{res['machine']['threads']} thread(s)), torch {res['versions']['torch']}, "
        f"lightly {res['versions']['lightly']}, pytorch-metric-learning "
        f"{res['versions']['pytorch-metric-learning']}. Forward + backward, median of "
        f"repeats; memory = peak RSS increase in a fresh subprocess per case "
        f"({res['memory_method']}). Ratios > 1 mean sslkit is faster / uses less.",
        "",
        "| loss | batch | sslkit time | peer | peer time | speed-up | sslkit mem | peer mem | mem ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in res["rows"]:
        ours = row["sslkit"]
        for peer in ("lightly", "pml"):
            if peer not in row:
                continue
            p = row[peer]
            if "error" in p or "error" in ours:
                err = p.get("error", "") or ours.get("error", "")
                m = re.search(r"allocate (\d+) bytes", err)
                if m:
                    err = f"out of memory: one allocation of {int(m.group(1)) / 2**30:.0f} GiB"
                lines.append(
                    f"| {row['loss']} | {row['size']} | {ours.get('median_s', float('nan')):.4f} s | "
                    f"{peer} | failed ({err[:70]}) | | | | |"
                )
                continue
            sp = p["median_s"] / ours["median_s"]
            mr = p["peak_mem_bytes"] / max(1, ours["peak_mem_bytes"])
            lines.append(
                f"| {row['loss']} | {row['size']} | {ours['median_s']:.4f} s | {peer} | "
                f"{p['median_s']:.4f} s | {sp:.2f}x | {_fmt_mem(ours['peak_mem_bytes'])} | "
                f"{_fmt_mem(p['peak_mem_bytes'])} | {mr:.2f}x |"
            )
    return "\n".join(lines)


def write_doc(res: dict) -> None:
    start, end = "<!-- bench:objectives:start -->", "<!-- bench:objectives:end -->"
    block = f"{start}\n{table(res)}\n{end}"
    text = DOC.read_text() if DOC.exists() else f"# Objectives\n\n## Benchmark\n\n{start}\n{end}\n"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text += f"\n## Benchmark\n\n{block}\n"
    DOC.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--doc-only", action="store_true", help="re-render the docs table from --out")
    a = ap.parse_args()
    if a.case:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        loss, impl, size, repeats, device = a.case
        print(json.dumps(run_case(loss, impl, int(size), int(repeats), device)))
        return
    if a.doc_only:
        write_doc(json.loads(a.out.read_text()))
        return
    plan = [("ntxent", b, ("sslkit", "lightly", "pml")) for b in NTXENT_BATCHES]
    plan += [("barlow", 1024, ("sslkit", "lightly")), ("vicreg", 1024, ("sslkit", "lightly"))]
    plan += [("dino", 128, ("sslkit", "lightly"))]
    if a.quick:
        plan = [(loss, min(size, 256), impls) for loss, size, impls in plan[:1] + plan[3:]]
    rows = []
    for loss, size, impls in plan:
        row = {"loss": loss, "size": size}
        for impl in impls:
            reps = 3 if size >= 4096 or impl == "pml" else 7
            row[impl] = _sub(loss, impl, size, reps, a.device, a.threads)
            print(loss, size, impl, json.dumps(row[impl])[:160], flush=True)
        rows.append(row)
    res = {
        "benchmark": "objectives",
        "command": "uv run --group bench python benchmarks/objectives.py " + " ".join(sys.argv[1:]),
        "machine": _machine(a.device, a.threads),
        "versions": _versions(),
        "memory_method": "CUDA max_memory_allocated delta"
        if a.device.startswith("cuda")
        else "ru_maxrss minus RSS before the first forward (psutil/resource)",
        "shapes": {
            "ntxent": "(batch, 2 views, 128), temperature 0.1",
            "barlow": "(batch, 2, 2048), lambda 0.005",
            "vicreg": "(batch, 2, 2048), 25/25/1",
            "dino": "student (batch, 6 views, 16384), teacher (batch, 2, 16384)",
        },
        "rows": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2) + "\n")
    if not a.no_doc:
        write_doc(res)
    print(table(res))


if __name__ == "__main__":
    main()
