"""Rank helpers and autograd-aware collectives.

Every helper is a no-op at world size 1 (no process group, or a group of one), so objectives
call them unconditionally: there is no flag a user can forget.

Gradient convention (the one DDP expects). DDP *averages* parameter gradients over ranks. For
the averaged gradient to equal the gradient of the loss on the global batch, the gradient each
rank back-propagates into its own inputs must be ``world_size`` times the global-batch gradient
for its rows. ``gather`` and ``all_reduce_sum`` therefore sum incoming gradients over ranks in
their backward pass (lightly < 1.5 and several others omitted this and silently trained with
gradients scaled by ``1 / world_size`` or with per-rank negatives only).
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = [
    "all_reduce_mean",
    "all_reduce_sum",
    "barrier",
    "gather",
    "gather_with_offset",
    "globalize_loss",
    "is_distributed",
    "is_main",
    "local_rank",
    "rank",
    "shard_info",
    "world_size",
]


def is_distributed() -> bool:
    """True when a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Global rank: from the process group, else ``RANK`` (set by torchrun), else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    """Number of processes: from the process group, else ``WORLD_SIZE``, else 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def local_rank() -> int:
    """Rank on this node: ``LOCAL_RANK`` (set by torchrun), else 0."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """True on global rank 0 (and always without a process group)."""
    return rank() == 0


def barrier() -> None:
    """Synchronise all processes; no-op at world size 1."""
    if is_distributed():
        dist.barrier()


def shard_info() -> tuple[int, int]:
    """``(shard index, number of shards)`` for this process and DataLoader worker.

    Combines the process rank with ``torch.utils.data.get_worker_info()`` so a streamed
    (iterable) dataset can keep items ``i`` with ``i % num_shards == shard_index`` and every
    item is read exactly once across ranks and workers.
    """
    info = torch.utils.data.get_worker_info()
    n_workers = info.num_workers if info is not None else 1
    worker = info.id if info is not None else 0
    return rank() * n_workers + worker, world_size() * n_workers


def _sizes(x: torch.Tensor) -> list[int]:
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    out = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(out, n)
    return [int(s.item()) for s in out]


def _all_gather_padded(x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    m = max(sizes)
    if x.shape[0] < m:
        pad = x.new_zeros((m - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad], 0)
    out = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(out, x.contiguous())
    return torch.cat([o[:s] for o, s in zip(out, sizes)], 0)


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        sizes = _sizes(x)
        r = rank()
        ctx.start, ctx.stop = sum(sizes[:r]), sum(sizes[: r + 1])
        return _all_gather_padded(x, sizes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.stop]


class _AllReduceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.contiguous().clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` along dim 0 over ranks (sizes may differ), keeping autograd.

    The backward pass sums the incoming gradient over ranks and returns this rank's slice.
    Without gradient tracking it is a plain all_gather. Identity at world size 1.
    """
    if not is_distributed():
        return x
    if not (torch.is_grad_enabled() and x.requires_grad):
        return _all_gather_padded(x, _sizes(x))
    return _Gather.apply(x)


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, autograd-aware (backward sums gradients). Identity at size 1."""
    if not is_distributed():
        return x
    if not (torch.is_grad_enabled() and x.requires_grad):
        y = x.detach().clone().contiguous()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y
    return _AllReduceSum.apply(x)


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ranks, autograd-aware. Identity at world size 1."""
    if not is_distributed():
        return x
    return all_reduce_sum(x) / world_size()


def globalize_loss(local_loss: torch.Tensor, local_weight: float | torch.Tensor) -> torch.Tensor:
    """Turn a rank's loss into the global-batch loss value with the DDP gradient convention.

    ``local_loss`` is the mean over this rank's ``local_weight`` items (rows, pairs, tokens).
    The returned value equals the mean over all items of all ranks, identical on every rank;
    its gradient is ``world_size * local_weight / global_weight`` times that of ``local_loss``,
    so that after DDP averages gradients the parameters see exactly the global-batch gradient.
    """
    if not is_distributed():
        return local_loss
    w = torch.as_tensor(local_weight, dtype=torch.float64, device=local_loss.device)
    stats = torch.stack([local_loss.detach().double() * w, w])
    dist.all_reduce(stats, op=dist.ReduceOp.SUM)
    total, total_w = stats[0], stats[1]
    scale = (world_size() * w / total_w).to(local_loss.dtype)
    scaled = local_loss * scale
    value = (total / total_w).to(local_loss.dtype)
    return scaled + (value - scaled.detach())


def gather_with_offset(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``gather(x)`` and the index of this rank's first row in the result."""
    if not is_distributed():
        return x, 0
    sizes = _sizes(x)
    start = sum(sizes[: rank()])
    if not (torch.is_grad_enabled() and x.requires_grad):
        return _all_gather_padded(x, sizes), start
    return _Gather.apply(x), start
