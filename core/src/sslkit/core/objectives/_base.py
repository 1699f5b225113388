"""What every objective with collectives shares: its process group."""

from __future__ import annotations

from sslkit.core import distributed as D


class Collective:
    """Mixin for ``nn.Module`` objectives that run collectives: ``self.group``, the process
    group of every gather / all-reduce the objective makes. ``None`` is the world group when
    torch.distributed is initialised, else no collective at all (local); a group from
    ``torch.distributed.new_group`` restricts the global batch to its members (a group of one
    is local). Held through :class:`sslkit.core.distributed.GroupRef`, so ``copy.deepcopy`` of
    a method that holds the objective (export does) shares the group instead of failing."""

    @property
    def group(self):
        ref = self.__dict__.get("_group_ref")
        return None if ref is None else ref.group

    @group.setter
    def group(self, value) -> None:
        self._group_ref = D.GroupRef(value)
