"""The scaffold split on a hand-made set whose assignment is worked out by hand, and the
seeded random splits."""

from __future__ import annotations

import numpy as np

from sslkit.molecules.configs import MoleculeData
from sslkit.molecules.data import load_data
from sslkit.molecules.data.splits import random_scaffold_split, random_split, scaffold_split

# row: SMILES -> Bemis-Murcko scaffold
HAND_MADE = [
    "Cc1ccccc1",  # 0 toluene       -> c1ccccc1
    "CCO",  # 1 ethanol             -> '' (acyclic)
    "Oc1ccccc1",  # 2 phenol        -> c1ccccc1
    "NC1CCCCC1",  # 3               -> C1CCCCC1
    "CCN",  # 4                     -> ''
    "Cc1ccncc1",  # 5               -> c1ccncc1
    "CCc1ccccc1",  # 6 ethylbenzene -> c1ccccc1
    "CCCC",  # 7 butane             -> ''
    "OC1CCCCC1",  # 8               -> C1CCCCC1
    "c1ccc2ccccc2c1",  # 9 naphthalene -> itself
]
# Groups (sorted indices): '' [1, 4, 7], benzene [0, 2, 6], cyclohexane [3, 8], pyridine [5],
# naphthalene [9]. Ordered by (size, first index), largest first: ('' before benzene: both 3,
# first index 1 > 0; naphthalene before pyridine: both 1, 9 > 5):
#   '' [1, 4, 7], benzene [0, 2, 6], cyclohexane [3, 8], naphthalene [9], pyridine [5].
# Cutoffs 0.8 * 10 = 8 and 0.9 * 10 = 9:
#   '' -> 0 + 3 = 3 <= 8: train; benzene -> 3 + 3 = 6 <= 8: train;
#   cyclohexane -> 6 + 2 = 8, not > 8: train;
#   naphthalene -> 8 + 1 > 8, and 8 + 0 + 1 = 9, not > 9: valid;
#   pyridine -> 8 + 1 > 8, and 8 + 1 + 1 = 10 > 9: test.
EXPECTED = {"train": [1, 4, 7, 0, 2, 6, 3, 8], "val": [9], "test": [5]}


def test_scaffold_split_of_a_hand_made_set(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("smiles\n" + "\n".join(HAND_MADE) + "\n")
    data = load_data(MoleculeData(path=str(path)))
    assert data.featurised.scaffolds[:3] == ["c1ccccc1", "", "c1ccccc1"]
    got = {k: data.ids[v].tolist() for k, v in data.splits.items()}
    assert got == EXPECTED


def test_scaffold_split_is_hu_et_al_s_greedy_walk():
    keys = ["a", "b", "a", "c", "b", "a"]  # a: [0, 2, 5], b: [1, 4], c: [3]
    # cutoffs 4.8 and 5.4: a -> 3 <= 4.8: train; b -> 3 + 2 = 5 > 4.8, 3 + 0 + 2 = 5 <= 5.4:
    # val; c -> 3 + 1 = 4 <= 4.8: train again (each group is tried for train first)
    s = scaffold_split(keys)
    assert s["train"].tolist() == [0, 2, 5, 3] and s["val"].tolist() == [1, 4]
    assert s["test"].tolist() == []


def test_random_split_is_hu_et_al_s_and_seeded():
    import random

    order = list(range(10))
    random.seed(3)
    random.shuffle(order)  # Hu et al.: random.seed(seed); random.shuffle(all_idx)
    s = random_split(10, seed=3)
    assert s["train"].tolist() == sorted(order[:8])
    assert s["val"].tolist() == sorted(order[8:9]) and s["test"].tolist() == sorted(order[9:])


def test_random_scaffold_split_keeps_groups_whole_and_is_seeded():
    keys = [f"g{i % 7}" for i in range(40)]
    a, b = random_scaffold_split(keys, seed=1), random_scaffold_split(keys, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(40))
    for part in a.values():
        groups = {keys[i] for i in part}
        for other in a.values():
            if other is not part:
                assert not groups & {keys[i] for i in other}
    assert len(a["val"]) <= 4 and len(a["test"]) <= 4  # floor(0.1 * 40) each
