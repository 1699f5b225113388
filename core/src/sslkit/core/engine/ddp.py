"""Scale-out under ``torchrun``: process group set-up, DDP wrapping and per-step agreement.

``torchrun --nproc-per-node N`` (or ``sslkit pretrain ... --nproc-per-node N``) sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous variables; :func:`setup` then joins the
process group (NCCL on CUDA, gloo on CPU). Rank helpers and collectives come from
:mod:`sslkit.core.distributed`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.engine.device import select_device
from sslkit.core.errors import UsageError


@dataclass(frozen=True)
class Env:
    """Where this process runs: its device, rank and the size of the job."""

    device: torch.device
    rank: int
    world_size: int
    local_world_size: int

    @property
    def nodes(self) -> int:
        return max(1, self.world_size // max(1, self.local_world_size))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device_name: str = "auto") -> tuple[Env, bool]:
    """Join the torchrun process group if there is one; returns ``(env, created)``.

    ``created`` is true when this call initialised the group (the caller then tears it down
    with :func:`teardown`). Each process uses ``cuda:LOCAL_RANK`` on GPU machines.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    created = False
    device = select_device(device_name)
    if device.type == "cuda" and device.index is None:
        # torch.cuda.set_device needs an index (a bare "cuda" is refused)
        device = torch.device("cuda", D.local_rank() if world > 1 else torch.cuda.current_device())
        if device.index >= torch.cuda.device_count():
            raise UsageError(
                f"torchrun started local rank {device.index} but this process sees "
                f"{torch.cuda.device_count()} CUDA device(s): use --nproc-per-node "
                f"{torch.cuda.device_count()} or less, or --device cpu (or, when a scheduler "
                "gives each process its own GPU through CUDA_VISIBLE_DEVICES, --device cuda:0)"
            )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        if device.type == "mps":
            raise UsageError(
                "torchrun on MPS is not supported by torch.distributed; use --device cpu"
            )
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, device_id=device if backend == "nccl" else None)
        created = True
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(D.world_size())))
    return Env(device, D.rank(), D.world_size(), local_world), created


def teardown(created: bool, agreed: bool = True) -> None:
    """End the group this process created. When every rank stopped at the same point (the end,
    or a stop they agreed on) they first meet at a barrier, so that none tears down while
    another still talks to it; after a failure of this rank alone they do not (the others may
    be inside a collective, and torchrun stops them)."""
    if created and dist.is_initialized():
        import gc

        gc.collect()  # DDP modules sit in reference cycles and hold the group
        if agreed:
            dist.barrier()
        dist.destroy_process_group()


class StepModule(nn.Module):
    """``forward(batch, step) = method.training_step(batch, step)``, so DDP's hooks see the
    training step."""

    def __init__(self, method: nn.Module):
        super().__init__()
        self.method = method

    def forward(self, batch, step: int):
        return self.method.training_step(batch, step)


def wrap(method: nn.Module, env: Env, *, sync_batchnorm: bool, compile: bool, find_unused: bool):
    """The callable the loop runs: the method's training step, under DDP when distributed,
    compiled with ``torch.compile`` on request. ``no_sync()`` is always available."""
    if sync_batchnorm and sync_batchnorm_applies(env):
        nn.SyncBatchNorm.convert_sync_batchnorm(method)
    step: nn.Module = StepModule(method)
    if env.distributed:
        step = nn.parallel.DistributedDataParallel(
            step,
            device_ids=[env.device.index] if env.device.type == "cuda" else None,
            find_unused_parameters=find_unused,
        )
    if compile:
        step = torch.compile(step)
    return step


def sync_batchnorm_applies(env: Env) -> bool:
    """torch's SyncBatchNorm runs on CUDA only; on CPU (gloo) BatchNorm stays per rank."""
    return env.distributed and env.device.type == "cuda"


def no_sync(step: nn.Module):
    """Skip the gradient all-reduce (accumulation micro-steps); a no-op without DDP."""
    return (
        step.no_sync()
        if hasattr(step, "no_sync") and D.is_distributed()
        else contextlib.nullcontext()
    )


def agree(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` over ranks in one all-reduce (flags and the step loss); identity alone."""
    if not D.is_distributed():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    return D.all_reduce_sum(t).tolist()


def broadcast_buffers(method: nn.Module) -> None:
    """Rank 0's buffers to every rank. DDP broadcasts them before each forward, so after the
    last step each rank still holds the BatchNorm statistics of its own last batch (and an EMA
    teacher's average of them); the run ends with one model on every rank."""
    if not D.is_distributed():
        return
    with torch.no_grad():
        for buffer in method.buffers():
            torch.distributed.broadcast(buffer, src=0)


def check_in_sync(method: nn.Module, device: torch.device) -> float:
    """Largest difference of a parameter checksum between ranks (0.0 when in sync)."""
    if not D.is_distributed():
        return 0.0
    with torch.no_grad():
        sums = torch.stack([p.detach().double().sum() for p in method.parameters()]).to(device)
        every = D.gather(sums.unsqueeze(0))
    return float((every - every[0:1]).abs().max())
