"""pytorch-lifestream's CoLES training speed on sequences exported by benchmarks/events.py.

Runs in the benchmark's own environment (``uv venv /tmp/ptls-venv && uv pip install --python
/tmp/ptls-venv/bin/python pytorch-lifestream``), never in the workspace. Reads an ``.npz`` of
already preprocessed events (``cats`` (N, C) codes, ``nums`` (N, F) floats, ``offsets``
(E + 1,), ``cat_sizes``) and times ptls' own pipeline: ``ColesDataset`` with ``SampleSlices``,
its collate function, ``TrxEncoder`` + ``RnnSeqEncoder`` (GRU) and ``CoLESModule``'s loss
(``ContrastiveLoss`` with ``HardNegativePairSelector``), in a plain loop (no Lightning
trainer overhead). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--split-count", type=int, default=5)
    ap.add_argument("--slice-min", type=int, default=2)
    ap.add_argument("--slice-max", type=int, default=40)
    ap.add_argument("--cat-dim", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import ptls
    from ptls.data_load.datasets import MemoryMapDataset
    from ptls.frames.coles import ColesDataset, CoLESModule
    from ptls.frames.coles.split_strategy import SampleSlices
    from ptls.nn import RnnSeqEncoder, TrxEncoder

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    z = np.load(args.npz)
    cats, nums, offsets, sizes = z["cats"], z["nums"], z["offsets"], z["cat_sizes"]
    records = []
    for e in range(len(offsets) - 1):
        s, t = int(offsets[e]), int(offsets[e + 1])
        rec = {"event_time": torch.arange(t - s, dtype=torch.float32)}
        for i in range(cats.shape[1]):
            rec[f"c{i}"] = torch.from_numpy(cats[s:t, i].astype(np.int64))
        for j in range(nums.shape[1]):
            rec[f"n{j}"] = torch.from_numpy(nums[s:t, j].astype(np.float32))
        records.append(rec)
    dataset = ColesDataset(
        MemoryMapDataset(records),
        splitter=SampleSlices(args.split_count, args.slice_min, args.slice_max),
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch, shuffle=True, collate_fn=ColesDataset.collate_fn
    )
    trx = TrxEncoder(
        embeddings={f"c{i}": {"in": int(v), "out": args.cat_dim} for i, v in enumerate(sizes)},
        numeric_values={f"n{j}": "identity" for j in range(nums.shape[1])},
    )
    module = CoLESModule(seq_encoder=RnnSeqEncoder(trx, hidden_size=args.hidden, type="gru"))
    opt = torch.optim.Adam(module.parameters(), lr=args.lr)
    module.train()

    def batches():
        while True:
            yield from loader

    it = batches()
    seen, start = 0, None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            start = time.perf_counter()
        x, y = next(it)
        y_h, y = module.shared_step(x, y)
        loss = module._loss(y_h, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= args.warmup:
            seen += int(y.max()) + 1  # entities in the batch
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "sequences_per_second": seen / seconds,
                "steps": args.steps,
                "seconds": seconds,
                "last_loss": float(loss),
                "ptls_version": getattr(ptls, "__version__", "0.7.0"),
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
