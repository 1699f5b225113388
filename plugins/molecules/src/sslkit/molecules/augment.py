"""Views of molecule graphs, made per molecule in the DataLoader workers (``train_transform``).

Each transform holds settings only (numbers and tuples), draws every random number from the
``rng`` the engine gives it, and leaves its input graph unchanged.

- :class:`MaskAtoms`: Hu et al.'s ``MaskAtom`` (``chem/util.py``): ``int(n * rate + 1)``
  distinct atoms, their features replaced by the masked atom (``[119, 0]`` for Hu's
  features); the graph gains ``masked_atom_index`` and ``mask_label`` (the atom types to
  predict).
- :class:`MolCLRViews`: two views of a molecule as MolCLR's data sets make them
  (yuyangw/MolCLR ``dataset/dataset.py``, ``dataset_subgraph.py``, ``dataset_mix.py``): atom
  masking, bond deletion (both directions of a bond), subgraph removal (a breadth-first
  subgraph from a random atom: its atoms masked, its bonds deleted).
- :class:`SubstructContext`: Hu et al.'s ``ExtractSubstructureContextPair`` (``chem/util.py``)
  for context prediction: a random centre atom, its k-hop substructure, its context ring.
- :class:`MaskTokens`: RoBERTa's dynamic masking of a token sequence (``mlm``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data


def _sample(n: int, k: int, rng: torch.Generator) -> Tensor:
    """``k`` distinct indices of ``range(n)`` in random order."""
    return torch.randperm(n, generator=rng)[: max(0, min(k, n))]


def _uniform(rng: torch.Generator, high: float) -> float:
    return float(torch.rand((), generator=rng)) * high


def _masked(x: Tensor, atoms: Tensor, mask_atom: Sequence[int]) -> Tensor:
    out = x.clone()
    if atoms.numel():
        out[atoms] = torch.tensor(list(mask_atom), dtype=x.dtype)
    return out


def _graph(x: Tensor, edge_index: Tensor, edge_attr: Tensor, keep: Tensor | None = None) -> Data:
    if keep is not None:
        edge_index, edge_attr = edge_index[:, keep], edge_attr[keep]
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=int(x.size(0)))


class MaskAtoms:
    """Hu et al.'s attribute masking of ``mask_rate`` of the atoms (at least one)."""

    def __init__(self, mask_rate: float, mask_atom: Sequence[int]):
        self.mask_rate = float(mask_rate)
        self.mask_atom = tuple(int(v) for v in mask_atom)

    def __call__(self, example: Data, rng: torch.Generator) -> Data:
        n = int(example.num_nodes)
        atoms = _sample(n, int(n * self.mask_rate + 1), rng)
        out = _graph(
            _masked(example.x, atoms, self.mask_atom), example.edge_index, example.edge_attr
        )
        out.masked_atom_index = atoms  # "index" in the name: PyG offsets it when batching
        out.mask_label = example.x[atoms, 0].clone()
        return out


def remove_subgraph(edge_index: Tensor, n: int, center: int, count: int) -> list[int]:
    """MolCLR's ``removeSubgraph``: the atoms of a breadth-first walk from ``center``, a whole
    frontier at a time, until ``count`` atoms are taken (fewer when the centre's component is
    smaller: MolCLR's loop would never end there)."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in edge_index.t().tolist():
        neighbours[a].append(b)
    removed: list[int] = []
    taken = {center}
    frontier = [center]
    while len(removed) < count and frontier:
        nxt: list[int] = []
        for atom in frontier:
            nxt.extend(v for v in neighbours[atom] if v not in taken and v not in nxt)
        for atom in frontier:
            if len(removed) >= count:
                break
            removed.append(atom)
        taken.update(nxt)
        frontier = sorted(nxt)  # MolCLR's list(set(...)) of small ints: ascending
    return removed


class MolCLRViews:
    """Two MolCLR views of a molecule (``augment``: ``mix``, ``node`` or ``subgraph``)."""

    def __init__(
        self,
        augment: str,
        mask_rate: float,
        max_subgraph: float,
        mask_atom: Sequence[int],
    ):
        if augment not in ("mix", "node", "subgraph"):
            raise ValueError(f"augment is mix, node or subgraph, not {augment!r}")
        self.augment = augment
        self.mask_rate = float(mask_rate)
        self.max_subgraph = float(max_subgraph)
        self.mask_atom = tuple(int(v) for v in mask_atom)

    def __call__(self, example: Data, rng: torch.Generator) -> tuple[Data, Data]:
        return self.view(example, rng), self.view(example, rng)

    def view(self, g: Data, rng: torch.Generator) -> Data:
        n, m = int(g.num_nodes), int(g.edge_index.size(1)) // 2
        if (
            self.augment == "node"
        ):  # dataset.py: mask floor(r n) (>= 1) atoms, delete floor(r m) bonds
            atoms = _sample(n, max(1, math.floor(self.mask_rate * n)), rng)
            bonds = _sample(m, math.floor(self.mask_rate * m), rng)
            return _graph(
                _masked(g.x, atoms, self.mask_atom), g.edge_index, g.edge_attr, _keep(m, bonds)
            )
        center = int(torch.randint(n, (), generator=rng))
        if self.augment == "subgraph":  # dataset_subgraph.py: a subgraph of floor(r n) atoms
            removed = remove_subgraph(g.edge_index, n, center, math.floor(self.mask_rate * n))
            return self._without(g, removed, [])
        # dataset_mix.py: a subgraph of floor(u n) atoms, u ~ U(0, max_subgraph), then atoms
        # masked up to floor(r n) and bonds deleted down to ceil((1 - r) m)
        share = _uniform(rng, self.max_subgraph)
        removed = remove_subgraph(g.edge_index, n, center, math.floor(share * n))
        gone = set(removed)
        rest = [a for a in range(n) if a not in gone]
        extra = _sample(len(rest), max(0, math.floor(self.mask_rate * n) - len(removed)), rng)
        masked = [rest[i] for i in extra.tolist()]
        view = self._without(g, removed, masked)
        left = int(view.edge_index.size(1)) // 2
        bonds = _sample(left, max(0, left - math.ceil((1 - self.mask_rate) * m)), rng)
        return _graph(view.x, view.edge_index, view.edge_attr, _keep(left, bonds))

    def _without(self, g: Data, removed: list[int], masked: list[int]) -> Data:
        """``g`` with the atoms ``removed`` and ``masked`` masked and every bond of a removed
        atom deleted."""
        atoms = torch.tensor(sorted(set(removed) | set(masked)), dtype=torch.long)
        x = _masked(g.x, atoms, self.mask_atom)
        if not removed:
            return _graph(x, g.edge_index, g.edge_attr)
        gone = torch.zeros(int(g.num_nodes), dtype=torch.bool)
        gone[torch.tensor(removed, dtype=torch.long)] = True
        keep = ~(gone[g.edge_index[0]] | gone[g.edge_index[1]])
        return _graph(x, g.edge_index, g.edge_attr, keep)


def _keep(m: int, bonds: Tensor) -> Tensor:
    """Edge mask keeping every bond of ``range(m)`` but ``bonds`` (both directions: edges
    ``2b`` and ``2b + 1``)."""
    keep = torch.ones(2 * m, dtype=torch.bool)
    keep[2 * bonds] = False
    keep[2 * bonds + 1] = False
    return keep


class MaskTokens:
    """RoBERTa's masking (Liu et al. 2019; Hugging Face's ``DataCollatorForLanguageModeling``,
    which SELFormer trains with), drawn anew each time a molecule is seen: each token but the
    special ones (ids below ``specials``: [pad], [unk], [cls], [eos], [mask]) is chosen with
    probability ``mask_rate``; a chosen token becomes [mask] with probability ``replace_mask``,
    else a random token (uniform over the non-special vocabulary) with probability
    ``replace_random / (1 - replace_mask)``, else stays. Returns ``{"tokens": ids after
    masking, "labels": the original id at chosen positions, -100 elsewhere}``. A molecule
    may have no chosen token, as in RoBERTa; the loss averages over the batch's chosen
    tokens."""

    def __init__(
        self,
        mask_rate: float,
        replace_mask: float,
        replace_random: float,
        mask_id: int,
        specials: int,
        vocab_size: int,
    ):
        if not 0 <= replace_mask + replace_random <= 1:
            raise ValueError("replace_mask + replace_random must be between 0 and 1")
        self.mask_rate, self.replace_mask = float(mask_rate), float(replace_mask)
        self.replace_random = float(replace_random)
        self.mask_id, self.specials, self.vocab_size = int(mask_id), int(specials), int(vocab_size)

    def __call__(self, example: np.ndarray, rng: torch.Generator) -> dict[str, Tensor]:
        ids = torch.as_tensor(example, dtype=torch.long)
        n = ids.numel()
        chosen = (torch.rand(n, generator=rng) < self.mask_rate) & (ids >= self.specials)
        how = torch.rand(n, generator=rng)
        random_ids = torch.randint(
            self.specials, max(self.vocab_size, self.specials + 1), (n,), generator=rng
        )
        out = ids.clone()
        to_mask = chosen & (how < self.replace_mask)
        to_random = chosen & (how >= self.replace_mask)
        to_random &= how < self.replace_mask + self.replace_random
        out[to_mask] = self.mask_id
        out[to_random] = random_ids[to_random]
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        return {"tokens": out, "labels": labels}


def hop_distances(edge_index: Tensor, n: int, source: int) -> list[int]:
    """Shortest-path length (bonds) from ``source`` to every atom; -1 where unreachable."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in edge_index.t().tolist():
        neighbours[a].append(b)
    dist = [-1] * n
    dist[source] = 0
    frontier = [source]
    while frontier:
        nxt = []
        for atom in frontier:
            for v in neighbours[atom]:
                if dist[v] < 0:
                    dist[v] = dist[atom] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


def induced(g: Data, atoms: list[int]) -> tuple[Data, dict[int, int]]:
    """The subgraph of ``g`` on ``atoms`` (renumbered in ascending order, as networkx's
    ``subgraph`` and Hu et al.'s ``reset_idxes``), and the old -> new atom numbers."""
    keep = sorted(atoms)
    new = {a: i for i, a in enumerate(keep)}
    inside = torch.zeros(int(g.num_nodes), dtype=torch.bool)
    inside[torch.tensor(keep, dtype=torch.long)] = True
    edges = inside[g.edge_index[0]] & inside[g.edge_index[1]]
    renumber = torch.full((int(g.num_nodes),), -1, dtype=torch.long)
    renumber[torch.tensor(keep, dtype=torch.long)] = torch.arange(len(keep))
    sub = Data(
        x=g.x[torch.tensor(keep, dtype=torch.long)],
        edge_index=renumber[g.edge_index[:, edges]],
        edge_attr=g.edge_attr[edges],
        num_nodes=len(keep),
    )
    return sub, new


class SubstructContext:
    """Hu et al.'s substructure / context pair (context prediction): a centre atom drawn
    uniformly; the substructure is every atom within ``k`` bonds of it (``k`` = the GIN's
    layers), with ``center_substruct_index``; the context every atom more than ``l1`` and at
    most ``l2`` bonds away (their ``symmetric_difference`` of the ``l1`` and ``l2`` balls),
    with ``overlap_context_index``: the context atoms also in the substructure (distance
    ``l1 + 1 .. k``), numbered in the context. A molecule with no atom past ``l1`` has no
    context: its context graph has no atom, and the batch leaves the pair out, as Hu et al.'s
    ``BatchSubstructContext`` does."""

    def __init__(self, k: int, l1: int, l2: int):
        self.k, self.l1, self.l2 = int(k), int(l1), int(l2)

    def __call__(self, example: Data, rng: torch.Generator, center: int | None = None):
        n = int(example.num_nodes)
        if center is None:
            center = int(torch.randint(n, (), generator=rng))
        dist = hop_distances(example.edge_index, n, center)
        sub_atoms = [a for a in range(n) if 0 <= dist[a] <= self.k]
        ctx_atoms = [a for a in range(n) if self.l1 < dist[a] <= self.l2]
        sub, sub_map = induced(example, sub_atoms)
        sub.center_substruct_index = torch.tensor([sub_map[center]], dtype=torch.long)
        if not ctx_atoms:
            empty = torch.zeros((0, example.x.size(1)), dtype=example.x.dtype)
            ctx = Data(
                x=empty,
                edge_index=torch.zeros((2, 0), dtype=torch.long),
                edge_attr=torch.zeros((0, example.edge_attr.size(1)), dtype=torch.long),
                num_nodes=0,
            )
            ctx.overlap_context_index = torch.zeros(0, dtype=torch.long)
            return sub, ctx
        ctx, ctx_map = induced(example, ctx_atoms)
        overlap = [ctx_map[a] for a in ctx_atoms if dist[a] <= self.k]
        ctx.overlap_context_index = torch.tensor(overlap, dtype=torch.long)
        return sub, ctx
