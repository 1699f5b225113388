"""RDKit molecules to integer atom and bond features, in two schemes (``data.featuriser``).

- ``hu``: Hu et al. 2020 (snap-stanford/pretrain-gnns ``chem/loader.py``,
  ``mol_to_graph_data_obj_simple``): atom = [atomic number - 1, chirality tag]; bond = [bond
  type, bond direction], each bond as two directed edges ``(i, j), (j, i)`` in RDKit's bond
  order. The model adds self-loops of bond type 4 (:data:`HU`'s ``self_loop``), and masking
  uses atom type 119 (``[119, 0]``, Hu's ``MaskAtom``).
- ``ogb``: OGB's ``ogb/utils/features.py`` (``atom_to_feature_vector``,
  ``bond_to_feature_vector``): 9 atom features (atomic number, chirality, total degree, formal
  charge, total H count, radical electrons, hybridisation, aromatic, in ring) and 3 bond
  features (type, stereo, conjugated), an unknown value mapped to each list's last ("misc")
  entry, written here against RDKit so the ogb package is not needed.

Where Hu's code has no entry (atomic number 0 of a dummy atom ``*``, a dative bond, a chirality
tag or bond direction other than those listed) it would stop with a ``ValueError``; here such a
value takes an extra "other" index (atom type 118, chirality 3, bond type 6, direction 3), so
every embedding table is a little larger than Hu's and the indices of ordinary molecules are
exactly Hu's. Each scheme's vocabulary sizes, self-loop bond and masked atom are constants of
:class:`Scheme`, saved with the run and read by the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERSION = 2
"""Version of the featurisers, part of the cache key: raise it whenever a molecule's features
change (2: a dative bond is Hu's "other" bond type 6, an unknown OGB stereo STEREOANY)."""


@dataclass(frozen=True)
class Scheme:
    """A featuriser's constants: embedding table sizes per atom and bond column, the bond
    features of the self-loops the GIN adds, and the features of a masked atom."""

    name: str
    atom_vocab: tuple[int, ...]
    bond_vocab: tuple[int, ...]
    self_loop: tuple[int, ...]
    mask_atom: tuple[int, ...]
    atom_types: int = 119
    """Atom-type classes a masked atom is predicted among (column 0 of the atom features)."""

    def info(self) -> dict:
        return {
            "featuriser": self.name,
            "atom_vocab": list(self.atom_vocab),
            "bond_vocab": list(self.bond_vocab),
            "self_loop": list(self.self_loop),
            "mask_atom": list(self.mask_atom),
            "atom_types": self.atom_types,
        }


# Hu et al.: 118 elements (index = atomic number - 1) + other (118) + mask (119); chirality
# unspecified, CW, CCW + other; bond single, double, triple, aromatic, self-loop (4), mask (5)
# + other (6); direction none, end-up-right, end-down-right + other.
HU = Scheme("hu", (120, 4), (7, 4), self_loop=(4, 0), mask_atom=(119, 0))
# OGB: each list of ogb/utils/features.py (its last entry "misc") + a mask index at the end;
# bond types single..aromatic, misc (4), self-loop (5), mask (6).
OGB = Scheme(
    "ogb",
    (120, 6, 13, 13, 11, 7, 7, 3, 3),
    (7, 6, 2),
    self_loop=(5, 0, 0),
    mask_atom=(119, 5, 12, 12, 10, 6, 6, 2, 2),
)
SCHEMES = {"hu": HU, "ogb": OGB}

_HU_CHIRALITY = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW")
_HU_BONDS = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
_HU_DIRS = ("NONE", "ENDUPRIGHT", "ENDDOWNRIGHT")
_OGB_CHIRALITY = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
_OGB_HYBRID = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
_OGB_STEREO = ("STEREONONE", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS", "STEREOANY")


def _index(options: tuple, value: object) -> int:
    """``options.index(value)``, or ``len(options)`` (the "other"/"misc" entry) when absent."""
    try:
        return options.index(value)
    except ValueError:
        return len(options)


def _bounded(value: int, low: int, high: int) -> int:
    """OGB's index of ``value`` in ``range(low, high + 1)`` + ["misc"]."""
    return value - low if low <= value <= high else high - low + 1


def _atomic(atom) -> int:
    z = atom.GetAtomicNum()
    return z - 1 if 1 <= z <= 118 else 118


def hu_atom(atom) -> list[int]:
    return [_atomic(atom), _index(_HU_CHIRALITY, str(atom.GetChiralTag()))]


def hu_bond(bond) -> list[int]:
    kind = _index(_HU_BONDS, str(bond.GetBondType()))
    # another bond type (dative, ...) is "other" (6): 4 and 5 are the self-loop and the mask
    kind = 6 if kind == len(_HU_BONDS) else kind
    return [kind, _index(_HU_DIRS, str(bond.GetBondDir()))]


def ogb_atom(atom) -> list[int]:
    return [
        _atomic(atom),
        _index(_OGB_CHIRALITY, str(atom.GetChiralTag())),
        _bounded(atom.GetTotalDegree(), 0, 10),
        _bounded(atom.GetFormalCharge(), -5, 5),
        _bounded(atom.GetTotalNumHs(), 0, 8),
        _bounded(atom.GetNumRadicalElectrons(), 0, 4),
        _index(_OGB_HYBRID, str(atom.GetHybridization())),
        int(atom.GetIsAromatic()),
        int(atom.IsInRing()),
    ]


def ogb_bond(bond) -> list[int]:
    return [
        _index(_HU_BONDS, str(bond.GetBondType())),
        # OGB's safe_index: a value not in the list is its last entry (STEREOANY)
        min(_index(_OGB_STEREO, str(bond.GetStereo())), len(_OGB_STEREO) - 1),
        int(bond.GetIsConjugated()),
    ]


_FEATURES = {"hu": (hu_atom, hu_bond), "ogb": (ogb_atom, ogb_bond)}


def featurise(mol, scheme: str = "hu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, edge_index, edge_attr)`` of an RDKit molecule: ``x`` ``(atoms, atom features)``,
    ``edge_index`` ``(2, 2 * bonds)`` with both directions of each bond next to each other,
    ``edge_attr`` ``(2 * bonds, bond features)``; all int64."""
    atom_fn, bond_fn = _FEATURES[scheme]
    s = SCHEMES[scheme]
    x = np.asarray([atom_fn(a) for a in mol.GetAtoms()], dtype=np.int64).reshape(
        -1, len(s.atom_vocab)
    )
    pairs, attrs = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        f = bond_fn(bond)
        pairs += [(i, j), (j, i)]
        attrs += [f, f]
    edge_index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T.copy()
    edge_attr = np.asarray(attrs, dtype=np.int64).reshape(-1, len(s.bond_vocab))
    return x, edge_index, edge_attr
