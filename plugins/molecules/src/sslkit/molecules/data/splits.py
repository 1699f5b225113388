"""Train/valid/test splits of molecules, as Hu et al.'s ``chem/splitters.py``.

- :func:`scaffold_split`: deterministic. Each molecule's Bemis-Murcko scaffold
  (``MurckoScaffold.MurckoScaffoldSmiles(smiles=s, includeChirality=True)``; acyclic
  molecules share the scaffold ``''``); groups ``{scaffold: sorted indices}`` ordered by
  ``(len(group), group[0])`` descending (largest first, a tie to the larger first index);
  walked with cutoffs ``0.8 n`` and ``0.9 n``: a group goes to train if it fits under the
  train cutoff, else to valid if train + valid + it fits under the valid cutoff, else to
  test.
- :func:`random_scaffold_split`: the scaffold groups in a seeded random order
  (``np.random.RandomState(seed).permutation``); valid and test filled up to ``floor(0.1 n)``
  each, the rest to train.
- :func:`random_split`: Python's ``random.shuffle`` seeded, cut at ``int(0.8 n)`` and
  ``int(0.8 n) + int(0.1 n)``.

Each returns ``{"train": idx, "val": idx, "test": idx}`` (numpy int64, positions in the list
of molecules given).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRACTIONS = (0.8, 0.1, 0.1)


def scaffold(smiles: str, include_chirality: bool = True) -> str:
    """The Bemis-Murcko scaffold SMILES of a molecule (``''`` for an acyclic one)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=include_chirality)


def scaffolds(smiles: Sequence[str]) -> list[str]:
    from sslkit.molecules.data.parse import quiet_rdkit

    with quiet_rdkit():
        return [scaffold(s) for s in smiles]


def _groups(keys: Sequence[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return groups


def _as_split(train: list[int], valid: list[int], test: list[int]) -> dict[str, np.ndarray]:
    return {
        "train": np.asarray(train, dtype=np.int64),
        "val": np.asarray(valid, dtype=np.int64),
        "test": np.asarray(test, dtype=np.int64),
    }


def scaffold_split(
    keys: Sequence[str], fractions: tuple[float, float, float] = FRACTIONS
) -> dict[str, np.ndarray]:
    """Hu et al.'s deterministic scaffold split of molecules whose scaffolds are ``keys``."""
    n = len(keys)
    groups = sorted(
        (sorted(g) for g in _groups(keys).values()), key=lambda g: (len(g), g[0]), reverse=True
    )
    train_cut = fractions[0] * n
    valid_cut = (fractions[0] + fractions[1]) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in groups:
        if len(train) + len(group) > train_cut:
            if len(train) + len(valid) + len(group) > valid_cut:
                test.extend(group)
            else:
                valid.extend(group)
        else:
            train.extend(group)
    return _as_split(train, valid, test)


def random_scaffold_split(
    keys: Sequence[str], seed: int = 0, fractions: tuple[float, float, float] = FRACTIONS
) -> dict[str, np.ndarray]:
    """Hu et al.'s ``random_scaffold_split``: scaffold groups in a seeded random order."""
    n = len(keys)
    rng = np.random.RandomState(seed)
    groups = list(_groups(keys).values())
    order = rng.permutation(len(groups))
    n_valid, n_test = int(np.floor(fractions[1] * n)), int(np.floor(fractions[2] * n))
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for k in order:
        group = groups[k]
        if len(valid) + len(group) <= n_valid:
            valid.extend(group)
        elif len(test) + len(group) <= n_test:
            test.extend(group)
        else:
            train.extend(group)
    return _as_split(train, valid, test)


def random_split(
    n: int, seed: int = 0, fractions: tuple[float, float, float] = FRACTIONS
) -> dict[str, np.ndarray]:
    """Hu et al.'s ``random_split``: ``random.seed(seed); random.shuffle`` of the indices, cut
    at ``int(0.8 n)`` and ``int(0.8 n) + int(0.1 n)``."""
    import random

    order = list(range(n))
    random.Random(seed).shuffle(order)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    return _as_split(sorted(order[:a]), sorted(order[a:b]), sorted(order[b:]))


def make_split(kind: str, keys: Sequence[str], seed: int = 0) -> dict[str, np.ndarray]:
    if kind == "scaffold":
        return scaffold_split(keys)
    if kind == "random_scaffold":
        return random_scaffold_split(keys, seed)
    if kind == "random":
        return random_split(len(keys), seed)
    raise ValueError(f"unknown split {kind!r}")
