"""The ring buffer of past embeddings shared by the memory-bank objectives (MoCo, NNCLR)."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective

__all__ = ["FeatureQueue"]


class FeatureQueue(Collective, nn.Module):
    """A first-in-first-out ring buffer of ``size`` feature vectors of width ``dim``: MoCo's
    queue of keys (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
    Learning") and NNCLR's support set (Dwibedi et al. 2021).

    ``enqueue(x)`` gathers ``x`` ``(batch, dim)`` from the ranks of ``group`` (rank order; so
    every rank holds the same queue) and writes it after the newest entries, overwriting the
    oldest once full; ``read()`` is the filled part ``(len(queue), dim)`` (in slot order, not
    age order). Writes are out of place: a tensor returned by ``read()`` before an enqueue is
    unchanged, so a loss may read it, enqueue, and back-propagate afterwards. The contents,
    write position and fill level are buffers (``features``, ``ptr``, ``filled``): checkpoints
    save them, and ``.to()`` / ``.double()`` move them with the owning loss.
    """

    distributed_kind = "gather"

    def __init__(self, size: int, dim: int, group=None):
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"FeatureQueue needs size >= 1 and dim >= 1, got {size}, {dim}")
        self.size = size
        self.group = group
        self.register_buffer("features", torch.zeros(size, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.filled)

    def read(self) -> torch.Tensor:
        """The stored features, ``(len(self), dim)``; empty before the first enqueue."""
        return self.features[: int(self.filled)]

    @torch.no_grad()
    def enqueue(self, x: torch.Tensor) -> None:
        """Append ``x`` ``(batch, dim)`` of every rank of the group (gathered here, detached)."""
        if x.dim() != 2 or x.shape[1] != self.features.shape[1]:
            raise ValueError(
                f"expected (batch, {self.features.shape[1]}) features, got {tuple(x.shape)}"
            )
        x = D.gather(x.detach(), self.group).to(self.features.dtype)
        n, size, p = x.shape[0], self.size, int(self.ptr)
        idx = (p + torch.arange(n, device=x.device)) % size
        # out of place: the previous contents may be saved for this step's backward pass
        self.features = self.features.index_copy(0, idx[-size:], x[-size:])
        self.ptr.fill_((p + n) % size)
        self.filled.fill_(min(size, int(self.filled) + n))


class QueuedLoss(Collective, nn.Module):
    """What MoCo's and NNCLR's losses share: ``temperature``, ``group`` and a
    :class:`FeatureQueue` of ``size`` features of width ``dim``, held as the attribute named by
    the class's ``bank`` (its size as ``<bank>_size``); checkpoints from before the
    :class:`FeatureQueue`, whose buffers were ``<bank>`` / ``ptr`` / ``filled`` on the loss, still
    load."""

    distributed_kind = "gather"
    bank = "queue"

    def __init__(self, dim: int, size: int, temperature: float, group=None):
        super().__init__()
        self.temperature = temperature
        setattr(self, f"{self.bank}_size", size)
        self.group = group
        self.add_module(self.bank, FeatureQueue(size, dim, group))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        b = self.bank
        rename_legacy_keys(
            state_dict, prefix, {b: f"{b}.features", "ptr": f"{b}.ptr", "filled": f"{b}.filled"}
        )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def rename_legacy_keys(state_dict: dict, prefix: str, renames: dict[str, str | None]) -> None:
    """Map state-dict keys of an earlier layout (``old -> new``, or ``old -> None`` to drop)
    in place, so checkpoints written before a buffer moved still load."""
    for old, new in renames.items():
        key = prefix + old
        if key in state_dict and (new is None or prefix + new not in state_dict):
            value = state_dict.pop(key)
            if new is not None:
                state_dict[prefix + new] = value
