"""Rank helpers and autograd-aware collectives.

Every helper is a no-op at world size 1 (no process group, or a group of one), so objectives
call them unconditionally: there is no flag a user can forget.

Process groups. The collectives take ``group``: ``None`` is the world group when
torch.distributed is initialised (and no collective at all when it is not); a process group
from ``torch.distributed.new_group`` restricts them to its members, whose ranks and sizes are
then those within the group (a group of one is local). A rank outside ``group`` may not call
them (``ValueError``). Objectives take ``group=`` and pass it to every helper here.

Gradient convention (the one DDP expects). DDP *averages* parameter gradients over ranks. For
the averaged gradient to equal the gradient of the loss on the global batch, the gradient each
rank back-propagates into its own inputs must be ``world_size`` times the global-batch gradient
for its rows. ``gather`` and ``all_reduce_sum`` therefore sum incoming gradients over ranks in
their backward pass (lightly < 1.5 and several others omitted this and silently trained with
gradients scaled by ``1 / world_size`` or with per-rank negatives only).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist

__all__ = [
    "GroupRef",
    "all_reduce_max",
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
    "replicated",
    "shard_info",
    "world_size",
]


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


_replicated = 0  # > 0 inside ``replicated()``


@contextlib.contextmanager
def replicated() -> Iterator[None]:
    """Every rank holds the same data (a whole graph): inside, the world group (``group=None``)
    acts as a group of one, so objectives compute their loss on this rank's data alone.
    Gathering would count every node once per rank, each copy a false negative of itself; DDP
    still averages the gradients of the ranks' independent views."""
    global _replicated
    _replicated += 1
    try:
        yield
    finally:
        _replicated -= 1


def _member(group) -> None:
    if group is not None and dist.get_rank(group) < 0:
        raise ValueError(
            f"rank {dist.get_rank()} is not a member of the process group it was given"
        )


def is_distributed(group=None) -> bool:
    """True when torch.distributed is initialised and ``group`` (None: the world) has more than
    one process; ``ValueError`` if this rank is not in ``group``."""
    if not _initialized() or (group is None and _replicated):
        return False
    _member(group)
    return dist.get_world_size(group) > 1


def rank(group=None) -> int:
    """Rank in ``group`` (None: the global rank): from the process group, else ``RANK`` (set
    by torchrun), else 0."""
    if group is None and _replicated:
        return 0
    if _initialized():
        _member(group)
        return dist.get_rank(group)
    return int(os.environ.get("RANK", 0)) if group is None else 0


def world_size(group=None) -> int:
    """Number of processes in ``group`` (None: the world): from the process group, else
    ``WORLD_SIZE``, else 1."""
    if group is None and _replicated:
        return 1
    if _initialized():
        _member(group)
        return dist.get_world_size(group)
    return int(os.environ.get("WORLD_SIZE", 1)) if group is None else 1


class GroupRef:
    """A process group held by a module (``None``: the world group). ``copy.deepcopy`` of the
    module shares it (a process group cannot be copied) and pickling drops it to ``None`` (a
    group does not outlive its processes), so modules holding one can still be copied for
    export and saved whole."""

    __slots__ = ("group",)

    def __init__(self, group=None):
        self.group = group

    def __deepcopy__(self, memo) -> GroupRef:
        return self

    def __reduce__(self):
        return (GroupRef, ())

    def __repr__(self) -> str:
        return f"GroupRef({self.group!r})"


def local_rank() -> int:
    """Rank on this node: ``LOCAL_RANK`` (set by torchrun), else 0."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """True on global rank 0 (and always without a process group)."""
    return rank() == 0


def barrier(group=None) -> None:
    """Synchronise the processes of ``group`` (None: all); no-op at world size 1."""
    if is_distributed(group):
        dist.barrier(group=group)


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


def _sizes(x: torch.Tensor, group=None) -> list[int]:
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    out = [torch.zeros_like(n) for _ in range(world_size(group))]
    dist.all_gather(out, n, group=group)
    return [int(s.item()) for s in out]


def _all_gather_padded(x: torch.Tensor, sizes: list[int], group=None) -> torch.Tensor:
    m = max(sizes)
    if x.shape[0] < m:
        pad = x.new_zeros((m - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad], 0)
    out = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(out, x.contiguous(), group=group)
    return torch.cat([o[:s] for o, s in zip(out, sizes)], 0)


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: list[int], group) -> torch.Tensor:
        r = rank(group)
        ctx.start, ctx.stop, ctx.group = sum(sizes[:r]), sum(sizes[: r + 1]), group
        return _all_gather_padded(x, sizes, group)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.start : ctx.stop], None, None


class _AllReduceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        y = x.contiguous().clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def gather(x: torch.Tensor, group=None) -> torch.Tensor:
    """Concatenate ``x`` along dim 0 over the ranks of ``group`` (sizes may differ), keeping
    autograd.

    The backward pass sums the incoming gradient over those ranks and returns this rank's
    slice. Without gradient tracking it is a plain all_gather. Identity at world size 1.
    """
    return gather_with_offset(x, group)[0]


def all_reduce_sum(x: torch.Tensor, group=None) -> torch.Tensor:
    """Sum of ``x`` over the ranks of ``group``, autograd-aware (backward sums gradients).
    Identity at world size 1."""
    if not is_distributed(group):
        return x
    if not (torch.is_grad_enabled() and x.requires_grad):
        y = x.detach().clone().contiguous()
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y
    return _AllReduceSum.apply(x, group)


def all_reduce_mean(x: torch.Tensor, group=None) -> torch.Tensor:
    """Mean of ``x`` over the ranks of ``group``, autograd-aware. Identity at world size 1."""
    if not is_distributed(group):
        return x
    return all_reduce_sum(x, group) / world_size(group)


@torch.no_grad()
def all_reduce_max(x: torch.Tensor, group=None) -> torch.Tensor:
    """Elementwise maximum of ``x`` over the ranks of ``group``, without gradient (a copy);
    ``x`` itself at world size 1."""
    if not is_distributed(group):
        return x
    y = x.detach().clone().contiguous()
    dist.all_reduce(y, op=dist.ReduceOp.MAX, group=group)
    return y


def globalize_loss(
    local_loss: torch.Tensor, local_weight: float | torch.Tensor, group=None
) -> torch.Tensor:
    """Turn a rank's loss into the global-batch loss value with the DDP gradient convention.

    ``local_loss`` is the mean over this rank's ``local_weight`` items (rows, pairs, tokens).
    The returned value equals the mean over all items of all ranks of ``group``, identical on
    each of them; its gradient is ``world_size(group) * local_weight / global_weight`` times
    that of ``local_loss``, so that after DDP averages gradients the parameters see exactly
    the global-batch gradient (with several equal sub-groups: the mean of their losses').
    """
    if not is_distributed(group):
        return local_loss
    w = torch.as_tensor(local_weight, dtype=torch.float64, device=local_loss.device)
    stats = torch.stack([local_loss.detach().double() * w, w])
    dist.all_reduce(stats, op=dist.ReduceOp.SUM, group=group)
    total, total_w = stats[0], stats[1]
    scale = (world_size(group) * w / total_w).to(local_loss.dtype)
    scaled = local_loss * scale
    value = (total / total_w).to(local_loss.dtype)
    return scaled + (value - scaled.detach())


def gather_with_offset(x: torch.Tensor, group=None) -> tuple[torch.Tensor, int]:
    """``gather(x, group)`` and the index of this rank's first row in the result."""
    if not is_distributed(group):
        return x, 0
    sizes = _sizes(x, group)
    start = sum(sizes[: rank(group)])
    if not (torch.is_grad_enabled() and x.requires_grad):
        return _all_gather_padded(x, sizes, group), start
    return _Gather.apply(x, sizes, group), start
