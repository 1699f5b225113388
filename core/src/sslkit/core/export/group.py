"""The process group of an export under ``torchrun``: rank, world size and the two collectives
an export needs (every rank agrees on success; rank 0 broadcasts the temporary folder)."""

from __future__ import annotations

import os
from typing import Any

import torch


class ExportGroup:
    """Rank, world size and the few collectives export needs. Launched by torchrun without a
    process group, it starts one (gloo) and keeps it for the life of the
    process, so that several exports in one script reuse it (ended at exit)."""

    def __init__(self, device: str):
        import torch.distributed as dist

        from sslkit.core import distributed

        self.dist = dist
        if (
            int(os.environ.get("WORLD_SIZE", 1)) > 1
            and dist.is_available()
            and not dist.is_initialized()
        ):
            import atexit

            # gloo on GPUs too: the group only carries a flag and small objects, CPU tensors
            # that NCCL cannot take
            dist.init_process_group("gloo")
            atexit.register(end_group)
        self.rank, self.world = distributed.rank(), distributed.world_size()

    def all_ok(self, ok: bool) -> bool:
        if self.world == 1:
            return ok
        flag = torch.tensor([1 if ok else 0])
        self.dist.all_reduce(flag, op=self.dist.ReduceOp.MIN)
        return bool(flag.item())

    def broadcast(self, value: Any) -> Any:
        if self.world == 1:
            return value
        box = [value]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]


def end_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
