"""Featurisers against features worked out by hand (and OGB's own documented example)."""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from sslkit.molecules.data.featurise import HU, OGB, featurise


def feats(smiles: str, scheme: str = "hu"):
    return featurise(Chem.MolFromSmiles(smiles), scheme)


def test_hu_ethanol():
    # CCO: carbon (Z=6) -> 5, oxygen (Z=8) -> 7, no chirality; two single bonds (type 0,
    # direction none), each as two directed edges next to each other in RDKit's bond order
    x, ei, ea = feats("CCO")
    assert x.tolist() == [[5, 0], [5, 0], [7, 0]]
    assert ei.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert ea.tolist() == [[0, 0]] * 4


def test_hu_chiral_centre():
    # C[C@H](N)O: '@' is anticlockwise as written -> CHI_TETRAHEDRAL_CCW (index 2); '@@' -> CW (1)
    x, _, _ = feats("C[C@H](N)O")
    assert x.tolist() == [[5, 0], [5, 2], [6, 0], [7, 0]]
    assert feats("C[C@@H](N)O")[0][1].tolist() == [5, 1]


def test_hu_aromatic_ring():
    # benzene (kekulé input is aromatised by RDKit): six carbons, six aromatic bonds (type 3)
    x, ei, ea = feats("C1=CC=CC=C1")
    assert x.tolist() == [[5, 0]] * 6
    assert ei.shape == (2, 12) and ea.tolist() == [[3, 0]] * 12
    assert sorted(map(tuple, ei.T.tolist()))[:2] == [(0, 1), (0, 5)]


def test_hu_bond_direction_and_double_bond():
    # F/C=C/F: the two single bonds carry '/' -> ENDUPRIGHT (1); the double bond is type 1
    _, _, ea = feats("F/C=C/F")
    assert ea[::2].tolist() == [[0, 1], [1, 0], [0, 1]]


def test_unknown_values_take_the_other_index():
    # a dummy atom '*' (Z=0) has no entry in Hu's list: the extra "other" type 118
    x, _, _ = feats("*C")
    assert x[:, 0].tolist() == [118, 5]
    assert HU.mask_atom == (119, 0) and HU.atom_vocab[0] == 120 and HU.self_loop == (4, 0)
    # a dative bond is not single..aromatic: "other" (6), not the self-loop (4) or mask (5)
    _, _, ea = feats("[NH3]->[Cu+2]")
    assert ea.tolist() == [[6, 0], [6, 0]] and HU.bond_vocab[0] == 7
    _, _, ea = feats("[NH3]->[Cu+2]", "ogb")
    assert ea[:, 0].tolist() == [4, 4] and ea[:, 0].max() < OGB.bond_vocab[0]


def test_ogb_features_match_ogbs_documented_example():
    # ogb/utils/features.py: Cl[C@H](/C=C/C)Br, atom 1 -> [5, 2, 4, 5, 1, 0, 2, 0, 0],
    # bond 2 (the stereo double bond) -> [1, 2, 0]
    x, _, ea = feats("Cl[C@H](/C=C/C)Br", "ogb")
    assert x[1].tolist() == [5, 2, 4, 5, 1, 0, 2, 0, 0]
    assert ea[2 * 2].tolist() == [1, 2, 0]
    assert x.shape[1] == len(OGB.atom_vocab) == 9 and ea.shape[1] == len(OGB.bond_vocab) == 3
    assert (x < np.asarray(OGB.atom_vocab)).all()


def test_ogb_ethanol_by_hand():
    # C (degree 1: 4 with Hs, charge 0 -> 5, 3 H, sp3 -> 2), C (CH2: degree 4, 2 H), O (OH:
    # degree 2, 1 H, sp3); nothing aromatic or in a ring; bonds single, no stereo, not conjugated
    x, _, ea = feats("CCO", "ogb")
    assert x.tolist() == [
        [5, 0, 4, 5, 3, 0, 2, 0, 0],
        [5, 0, 4, 5, 2, 0, 2, 0, 0],
        [7, 0, 2, 5, 1, 0, 2, 0, 0],
    ]
    assert ea.tolist() == [[0, 0, 0]] * 4
