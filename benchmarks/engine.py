"""The training engine's overhead against a bare PyTorch loop on the same model and data.

    uv run python benchmarks/engine.py [--repeats 9] [--epochs 1] [--threads 1] [--device cpu]

Model: SimCLR of the digits reference plugin (MLP encoder 64-512-128, projector, InfoNCE on two
noise/pixel-dropout views). Data: the UCI digits (scikit-learn) tiled 20 times (35,940 rows). Both
loops use the same DataLoader settings, batch, AdamW and seed. The bare loop is the minimum a
person would write: forward, backward, step, zero_grad, no logging and no checkpoint. The
engine runs with its defaults: per-step loss check and learning-rate schedule, metrics.jsonl
every 10 steps, a full checkpoint at the end of each epoch (weights, optimizer, RNG). Each
repeat times one epoch of each, alternating, after a warm-up epoch; samples/s is the median of
the repeats and the overhead is ``1 - engine / bare`` (a share of the bare step time), from
the medians and, less sensitive to drifting machine load, as the median of the per-repeat
ratios of the two runs timed back to back.

Writes ``benchmarks/results/engine.json`` and the table in ``docs/engine.md``. bf16 on a GPU
is measured with ``--device cuda`` where one is available.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _common import machine, median, write_result, write_table

from sslkit.core.config import RunConfig, TrainConfig
from sslkit.core.engine import fit
from sslkit.core.engine.method import move_to
from sslkit.core.engine.rundir import RunDir
from sslkit.core.engine.views import with_views
from sslkit.testing import digits, digits_impl

BATCH = 256


def digits_data(tiles: int) -> digits_impl.DigitsDomain:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return digits_impl.DigitsDomain(np.tile(x, (tiles, 1)), np.tile(y, tiles), 0.0, None)


def make_method(seed: int) -> digits_impl.DigitsSimCLR:
    torch.manual_seed(seed)
    return digits_impl.DigitsSimCLR(digits.DigitsSimCLR(hidden_dim=512, embed_dim=128), 64)


def bare_epoch(method, data, device, precision: str) -> tuple[float, int]:
    """One epoch of the plain loop; returns (seconds, samples). The views are made per example
    by the method's ``train_transform()``, as in the engine."""
    loader = torch.utils.data.DataLoader(
        with_views(data.train_dataset(), method.train_transform(), 0), batch_size=BATCH,
        shuffle=True, drop_last=True, collate_fn=data.collate,
        generator=torch.Generator().manual_seed(0),
        pin_memory=device.type == "cuda",
    )  # fmt: skip
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-3, weight_decay=0.05)
    bf16 = precision == "bf16"
    method.train()
    samples = 0
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        batch = move_to(batch, device, non_blocking=device.type == "cuda")
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = method.training_step(batch, step)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        samples += batch.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, samples


def engine_epoch(method, data, device, precision: str, folder: Path) -> tuple[float, int]:
    cfg = RunConfig("digits", "simclr", None, TrainConfig(
        epochs=1, batch_size=BATCH, lr=1e-3, weight_decay=0.05, device=str(device),
        precision=precision, quiet=True, tensorboard=False, log_every=10,
    ))  # fmt: skip
    run = RunDir.create(folder, f"run-{time.monotonic_ns()}")
    result = fit(method, data, cfg, run)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return result.seconds, result.samples


def measure(device: torch.device, precision: str, repeats: int, tiles: int) -> dict:
    data = digits_data(tiles)
    bare, engine = [], []
    with tempfile.TemporaryDirectory() as tmp:
        bare_epoch(
            make_method(0).to(device), data, device, precision
        )  # warm-up (allocator, kernels)
        engine_epoch(make_method(0), data, device, precision, Path(tmp))
        for r in range(repeats):
            for name, out in (("bare", bare), ("engine", engine)) if r % 2 == 0 else (
                ("engine", engine), ("bare", bare)):  # fmt: skip
                method = make_method(r).to(device)
                if name == "bare":
                    seconds, samples = bare_epoch(method, data, device, precision)
                else:
                    seconds, samples = engine_epoch(method, data, device, precision, Path(tmp))
                out.append(samples / seconds)
    b, e = median(bare), median(engine)
    return {
        "device": str(device),
        "precision": precision,
        "rows": len(data.train_dataset()),
        "batch": BATCH,
        "steps_per_epoch": len(data.train_dataset()) // BATCH,
        "bare_samples_per_s": bare,
        "engine_samples_per_s": engine,
        "bare_median": b,
        "engine_median": e,
        "overhead_pct": 100.0 * (1.0 - e / b),
        "overhead_pct_paired": 100.0 * median([1.0 - x / y for x, y in zip(engine, bare)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--tiles", type=int, default=20, help="copies of the 1,797 digits")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--name", default="engine", help="result file name (benchmarks/results/)")
    args = parser.parse_args()
    torch.set_num_threads(min(args.threads, 2))
    cases = [measure(torch.device("cpu"), "fp32", args.repeats, args.tiles)]
    gpu_note = "no GPU in this environment: bf16 GPU samples/s not recorded"
    if args.device.startswith("cuda"):
        if torch.cuda.is_available():
            cases.append(measure(torch.device(args.device), "bf16", args.repeats, args.tiles))
            gpu_note = torch.cuda.get_device_name()
        else:
            gpu_note = "--device cuda asked, but CUDA is not available: bf16 not recorded"
    payload = {
        "benchmark": "engine overhead vs a bare PyTorch loop (digits SimCLR)",
        "machine": machine(("torch", "numpy", "scikit-learn")),
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "gpu": gpu_note,
        "cases": cases,
        "target": "overhead <= 5% of step time on CPU",
        "meets_target": max(cases[0]["overhead_pct"], cases[0]["overhead_pct_paired"]) <= 5.0,
    }
    path = write_result(args.name, payload)
    rows = [
        [c["device"], c["precision"], f"{c['bare_median']:,.0f}", f"{c['engine_median']:,.0f}",
         f"{c['overhead_pct']:+.1f}% (paired {c['overhead_pct_paired']:+.1f}%)"]
        for c in cases
    ]  # fmt: skip
    if len(cases) == 1:
        rows.append(["cuda", "bf16", "not recorded", "not recorded", gpu_note])
    if args.name == "engine":
        write_table("engine.md", "engine-bench",
                    rows, ["device", "precision", "bare loop samples/s", "engine samples/s", "overhead"])  # fmt: skip
    for c in cases:
        print(f"{c['device']} {c['precision']}: bare {c['bare_median']:,.0f} samples/s, engine "
              f"{c['engine_median']:,.0f} samples/s, overhead {c['overhead_pct']:+.2f}% "
              f"(paired {c['overhead_pct_paired']:+.2f}%)")  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
