"""Worker script for test_distributed.py: ``python _dist_worker.py OUT_DIR`` spawns 2 gloo ranks;
``python _dist_worker.py OUT_DIR subgroup`` spawns 3.

World size 2 (two real processes on gloo) equals one process on the global batch.

Each worker computes the single-process loss on the global batch itself (with the collectives
switched off), then the distributed loss on its own rows, and checks: same loss on every rank,
and input gradient / group size = the single-process gradient of its rows (DDP averages
gradients, so parameters then get exactly the global-batch gradient).

``subgroup``: world size 3, every objective built with ``group=``: ranks 1 and 2 share a
``new_group([1, 2])`` (group ranks 0 and 1, not their global ranks), whose global batch is
their rows only; rank 0 is alone in ``new_group([0])``, where the loss must be the local one on
its rows although the world has 3 ranks.
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
SUBGROUP_WORLD = 3


@contextlib.contextmanager
def single_process():
    orig = D.is_distributed
    D.is_distributed = lambda group=None: False
    try:
        yield
    finally:
        D.is_distributed = orig


def _x(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _split(n, rank, size=2, uneven=False):
    if size == 1:
        return slice(0, n)
    cut = n // 2 + (1 if uneven else 0)
    return slice(0, cut) if rank == 0 else slice(cut, n)


def _compare(name, make, inputs, forward, rank, uneven=False, steps=1, group=None, size=WORLD):
    """``inputs``: global tensors (dim 0 = batch). ``make(group)`` -> objective;
    ``forward(obj, step, *local)`` -> loss. ``rank`` / ``size``: within ``group``."""
    ref_obj, dist_obj = make(group), make(group)
    sl = _split(inputs[0].shape[0], rank, size, uneven)
    for step in range(steps):
        g_in = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
        with single_process():
            ref = forward(ref_obj, step, *g_in)
        ref_grads = torch.autograd.grad(
            ref, [x for x in g_in if x.requires_grad], allow_unused=True
        )
        l_in = [x[sl].clone().requires_grad_(x.is_floating_point()) for x in inputs]
        loss = forward(dist_obj, step, *l_in)
        grads = torch.autograd.grad(loss, [x for x in l_in if x.requires_grad], allow_unused=True)
        torch.testing.assert_close(
            loss, ref, atol=1e-10, rtol=1e-9, msg=f"{name} step {step}: loss"
        )
        for g, rg in zip(grads, ref_grads):
            if g is None and rg is None:
                continue
            torch.testing.assert_close(g / size, rg[sl], atol=1e-10, rtol=1e-8, msg=f"{name}: grad")
    for (bn, b1), (_, b2) in zip(ref_obj.named_buffers(), dist_obj.named_buffers()):
        torch.testing.assert_close(b1, b2, msg=f"{name}: buffer {bn}")


def _cases():
    z = _x(8, 2, 5, seed=0)
    z3 = _x(8, 3, 5, seed=1)
    lab = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2])

    def plain(obj, step, z):
        return obj(z)

    def two_views(obj, step, a, b):
        return obj(a, b)

    def nnclr_make(group):
        m = O.NNCLR(5, support_size=12, temperature=0.3, group=group).double()
        m.support.features.copy_(torch.nn.functional.normalize(_x(12, 5, seed=9), dim=-1))
        m.support.filled.fill_(12)
        return m

    def dino_make(group):
        return O.DINOLoss(
            5, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_steps=3, group=group
        ).double()

    def masked_inputs(seed):
        return _x(8, 6, 4, seed=seed), _x(8, 6, 4, seed=seed + 1), (_x(8, 6, seed=seed + 2) > 0)

    return [
        ("InfoNCE", lambda g: O.InfoNCE(0.2, group=g), [z], plain, {}),
        (
            "InfoNCE-two-views",
            lambda g: O.InfoNCE(0.2, group=g),
            [z[:, 0], z[:, 1]],
            two_views,
            {"uneven": True},
        ),
        ("InfoNCE-uneven", lambda g: O.InfoNCE(0.2, group=g), [z3], plain, {"uneven": True}),
        ("InfoNCE-chunked", lambda g: O.InfoNCE(0.2, chunk_size=3, group=g), [z3], plain, {}),
        (
            "SupCon",
            lambda g: O.SupCon(0.3, group=g),
            [z, lab],
            lambda o, step, z, y: o(z, labels=y),
            {"uneven": True},
        ),
        ("AMInfoNCE", lambda g: O.AMInfoNCE(0.2, 0.2, group=g), [z], plain, {}),
        ("DCL", lambda g: O.DCL(0.2, group=g), [z3], plain, {}),
        ("DCLW", lambda g: O.DCLW(0.2, group=g), [z], plain, {}),
        ("Debiased", lambda g: O.DebiasedInfoNCE(0.5, 0.1, group=g), [z], plain, {}),
        (
            "MoCoQueue",
            lambda g: O.MoCoQueue(5, queue_size=20, temperature=0.2, group=g).double(),
            [_x(8, 5, seed=2), _x(8, 5, seed=3)],
            lambda o, step, q, k: o(q, k),
            {"steps": 3},
        ),
        (
            "NNCLR",
            nnclr_make,
            [z, _x(8, 2, 5, seed=4)],
            lambda o, step, z, p: o(p, z),  # (prediction, target)
            {"steps": 2},
        ),
        ("MetricLoss", lambda g: O.MetricLoss(group=g), [z], plain, {}),
        ("BarlowTwins", lambda g: O.BarlowTwins(0.05, group=g), [z], plain, {"uneven": True}),
        ("VICReg", lambda g: O.VICReg(group=g), [z3 * 0.3], plain, {"uneven": True}),
        (
            "VICReg-two-views",
            lambda g: O.VICReg(group=g),
            [z[:, 0] * 0.3, z[:, 1] * 0.3],
            two_views,
            {},
        ),
        ("WMSE", lambda g: O.WMSE(eps=0.05, group=g), [_x(16, 2, 3, seed=5)], plain, {}),
        (
            "DINO",
            dino_make,
            [_x(8, 4, 5, seed=6), _x(8, 2, 5, seed=7)],
            lambda o, step, s, t: o(s, t, step=step),
            {"steps": 3, "uneven": True},
        ),
        (
            "SwAV",
            lambda g: O.SwAVLoss(0.1, 0.05, 3, group=g),
            [_x(8, 3, 6, seed=8) * 0.3],
            plain,
            {"uneven": True},
        ),
        (
            "MAE",
            lambda g: O.MaskedReconstruction(norm_targets=True, group=g),
            list(masked_inputs(10)),
            lambda o, step, p, t, m: o(p, t, m),
            {},
        ),
        (
            "LatentPrediction",
            lambda g: O.LatentPrediction(top_k=None, group=g),
            list(masked_inputs(20)),
            lambda o, step, p, t, m: o(p, [t, 2 * t], m),
            {},
        ),
        (
            "MaskedPrediction",
            lambda g: O.MaskedPrediction(unmasked_weight=0.3, group=g),
            [
                _x(8, 6, 5, seed=30),
                torch.randint(0, 5, (8, 6), generator=torch.Generator().manual_seed(0)),
                _x(8, 6, seed=31) > 0,
            ],
            lambda o, step, x, t, m: o(x, t, m),
            {},
        ),
        (
            "Matryoshka(InfoNCE)",
            lambda g: O.Matryoshka(O.InfoNCE(0.2, group=g), dims=(2, 5), weights=(0.5, 1.0)),
            [z],
            plain,
            {},
        ),
    ]


CASE_NAMES = [c[0] for c in _cases()]


def _run_cases(rank, size, group):
    results = {}
    for name, make, inputs, forward, kw in _cases():
        try:
            _compare(name, make, inputs, forward, rank, group=group, size=size, **kw)
            results[name] = "ok"
        except Exception:
            results[name] = traceback.format_exc()
    return results


def _subgroup_worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=SUBGROUP_WORLD
    )
    try:
        alone, pair = dist.new_group([0]), dist.new_group([1, 2])  # every rank creates both
        group = alone if rank == 0 else pair
        size, grank = (1, 0) if rank == 0 else (2, rank - 1)
        assert D.world_size(group) == size and D.rank(group) == grank
        assert D.is_distributed(group) == (size > 1) and D.is_distributed()
        try:
            D.gather(torch.zeros(1), pair if rank == 0 else alone)
            raise AssertionError("a group this rank is not in was accepted")
        except ValueError:
            pass
        x = torch.full((grank + 1, 2), float(rank), requires_grad=True)
        g = D.gather(x, group)
        assert g.shape[0] == (1 if rank == 0 else 3), g.shape
        g.sum().backward()
        assert torch.equal(x.grad, torch.full_like(x, float(size)))
        results = _run_cases(grank, size, group)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


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
        results = _run_cases(rank, WORLD, None)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    out = sys.argv[1]
    if sys.argv[2:] == ["subgroup"]:
        fn, n = _subgroup_worker, SUBGROUP_WORLD
    else:
        fn, n = _worker, WORLD
    mp.spawn(fn, args=(os.path.join(out, "init"), out), nprocs=n, join=True)
