"""Worker script for test_distributed.py: ``python _dist_worker.py OUT_DIR`` spawns 2 gloo ranks.

World size 2 (two real processes on gloo) equals one process on the global batch.

Each worker computes the single-process loss on the global batch itself (with the collectives
switched off), then the distributed loss on its own rows, and checks: same loss on every rank,
and input gradient / world_size = the single-process gradient of its rows (DDP averages
gradients, so parameters then get exactly the global-batch gradient).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sslkit.core import distributed as D
from sslkit.core import objectives as O

WORLD = 2


@contextlib.contextmanager
def single_process():
    orig = D.is_distributed
    D.is_distributed = lambda: False
    try:
        yield
    finally:
        D.is_distributed = orig


def _x(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _split(n, rank, uneven=False):
    cut = n // 2 + (1 if uneven else 0)
    return slice(0, cut) if rank == 0 else slice(cut, n)


def _compare(name, make, inputs, forward, rank, uneven=False, steps=1):
    """``inputs``: global tensors (dim 0 = batch). ``forward(obj, *local)`` -> loss."""
    ref_obj, dist_obj = make(), make()
    sl = _split(inputs[0].shape[0], rank, uneven)
    for step in range(steps):
        g_in = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
        with single_process():
            ref = forward(ref_obj, *g_in)
        ref_grads = torch.autograd.grad(
            ref, [x for x in g_in if x.requires_grad], allow_unused=True
        )
        l_in = [x[sl].clone().requires_grad_(x.is_floating_point()) for x in inputs]
        loss = forward(dist_obj, *l_in)
        grads = torch.autograd.grad(loss, [x for x in l_in if x.requires_grad], allow_unused=True)
        torch.testing.assert_close(
            loss, ref, atol=1e-10, rtol=1e-9, msg=f"{name} step {step}: loss"
        )
        for g, rg in zip(grads, ref_grads):
            if g is None and rg is None:
                continue
            torch.testing.assert_close(
                g / WORLD, rg[sl], atol=1e-10, rtol=1e-8, msg=f"{name}: grad"
            )
    for (bn, b1), (_, b2) in zip(ref_obj.named_buffers(), dist_obj.named_buffers()):
        torch.testing.assert_close(b1, b2, msg=f"{name}: buffer {bn}")


def _cases():
    z = _x(8, 2, 5, seed=0)
    z3 = _x(8, 3, 5, seed=1)
    lab = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2])

    def plain(obj, z):
        return obj(z)

    def nnclr_make():
        m = O.NNCLR(5, support_size=12, temperature=0.3).double()
        m.support.copy_(torch.nn.functional.normalize(_x(12, 5, seed=9), dim=-1))
        m.filled.fill_(12)
        return m

    def dino_make():
        m = O.DINOLoss(5, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_steps=3).double()
        return m

    def masked_inputs(seed):
        return _x(8, 6, 4, seed=seed), _x(8, 6, 4, seed=seed + 1), (_x(8, 6, seed=seed + 2) > 0)

    return [
        ("InfoNCE", lambda: O.InfoNCE(0.2), [z], plain, {}),
        ("InfoNCE-uneven", lambda: O.InfoNCE(0.2), [z3], plain, {"uneven": True}),
        ("InfoNCE-chunked", lambda: O.InfoNCE(0.2, chunk_size=3), [z3], plain, {}),
        ("SupCon", lambda: O.SupCon(0.3), [z, lab], lambda o, z, y: o(z, y), {"uneven": True}),
        ("AMInfoNCE", lambda: O.AMInfoNCE(0.2, 0.2), [z], plain, {}),
        ("DCL", lambda: O.DCL(0.2), [z3], plain, {}),
        ("DCLW", lambda: O.DCLW(0.2), [z], plain, {}),
        ("Debiased", lambda: O.DebiasedInfoNCE(0.5, 0.1), [z], plain, {}),
        (
            "MoCoQueue",
            lambda: O.MoCoQueue(5, queue_size=20, temperature=0.2).double(),
            [_x(8, 5, seed=2), _x(8, 5, seed=3)],
            lambda o, q, k: o(q, k),
            {"steps": 3},
        ),
        ("NNCLR", nnclr_make, [z, _x(8, 2, 5, seed=4)], lambda o, z, p: o(z, p), {"steps": 2}),
        (
            "MetricLoss",
            lambda: O.MetricLoss(),
            [z],
            plain,
            {},
        ),
        ("BarlowTwins", lambda: O.BarlowTwins(0.05), [z], plain, {"uneven": True}),
        ("VICReg", lambda: O.VICReg(), [z3 * 0.3], plain, {"uneven": True}),
        ("WMSE", lambda: O.WMSE(eps=0.05), [_x(16, 2, 3, seed=5)], plain, {}),
        (
            "DINO",
            dino_make,
            [_x(8, 4, 5, seed=6), _x(8, 2, 5, seed=7)],
            lambda o, s, t: o(s, t),
            {"steps": 3, "uneven": True},
        ),
        (
            "SwAV",
            lambda: O.SwAVLoss(0.1, 0.05, 3),
            [_x(8, 3, 6, seed=8) * 0.3],
            plain,
            {"uneven": True},
        ),
        (
            "MAE",
            lambda: O.MaskedReconstruction(norm_targets=True),
            list(masked_inputs(10)),
            lambda o, p, t, m: o(p, t, m),
            {},
        ),
        (
            "LatentPrediction",
            lambda: O.LatentPrediction(top_k=None),
            list(masked_inputs(20)),
            lambda o, p, t, m: o(p, [t, 2 * t], m),
            {},
        ),
        (
            "MaskedPrediction",
            lambda: O.MaskedPrediction(unmasked_weight=0.3),
            [
                _x(8, 6, 5, seed=30),
                torch.randint(0, 5, (8, 6), generator=torch.Generator().manual_seed(0)),
                _x(8, 6, seed=31) > 0,
            ],
            lambda o, x, t, m: o(x, t, m),
            {},
        ),
        (
            "Matryoshka(InfoNCE)",
            lambda: O.Matryoshka(O.InfoNCE(0.2), dims=(2, 5), weights=(0.5, 1.0)),
            [z],
            plain,
            {},
        ),
    ]


CASE_NAMES = [c[0] for c in _cases()]


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        assert D.is_distributed() and D.world_size() == WORLD and D.rank() == rank
        # collectives themselves
        x = torch.full((rank + 1, 2), float(rank), requires_grad=True)
        g = D.gather(x)
        assert g.shape == (3, 2) and g[0].tolist() == [0.0, 0.0] and g[2].tolist() == [1.0, 1.0]
        (g.sum() * (rank + 1)).backward()  # rank losses differ: grads are summed over ranks
        assert torch.equal(x.grad, torch.full_like(x, 3.0))
        y = torch.tensor([1.0 + rank], requires_grad=True)
        s = D.all_reduce_sum(y)
        assert s.item() == 3.0
        s.backward()
        assert y.grad.item() == 2.0
        assert D.all_reduce_mean(torch.tensor([2.0 * rank])).item() == 1.0
        assert D.shard_info() == (rank, WORLD)
        D.barrier()
        results = {}
        for name, make, inputs, forward, kw in _cases():
            try:
                _compare(name, make, inputs, forward, rank, **kw)
                results[name] = "ok"
            except Exception:
                results[name] = traceback.format_exc()
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    out = sys.argv[1]
    mp.spawn(_worker, args=(os.path.join(out, "init"), out), nprocs=WORLD, join=True)
