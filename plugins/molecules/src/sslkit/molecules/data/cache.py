"""The featurisation cache: parsed and featurised molecules of a table, keyed by the table's
content (sha256 of the file) and everything that changes the result (SMILES column,
featuriser and its version, standardisation, row limit, RDKit version).

Stored under ``$SSLKIT_CACHE/molecules/`` (default ``~/.cache/sslkit``) as an ``.npz`` of
integer arrays, read with ``allow_pickle=False``, and a ``.json`` of strings (canonical SMILES,
scaffolds, invalid rows): no pickle, so a cache folder from elsewhere cannot run code. Written
to a temporary name and renamed, so a killed run never leaves half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sslkit.core.data import cache_dir
from sslkit.core.engine.rundir import atomic_write_bytes, atomic_write_text

VERSION = 2


@dataclass
class Featurised:
    """The valid molecules of a table, featurised, packed: molecule ``k`` has atoms
    ``atom_ptr[k]:atom_ptr[k+1]`` of ``x`` and edges ``edge_ptr[k]:edge_ptr[k+1]`` of
    ``edge_index`` (atom numbers local to the molecule) and ``edge_attr``."""

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    atom_ptr: np.ndarray
    edge_ptr: np.ndarray
    rows: np.ndarray
    """0-based table row of each valid molecule."""
    smiles: list[str]
    """Canonical SMILES (RDKit's ``MolToSmiles``) of each valid molecule."""
    scaffolds: list[str] | None
    """Bemis-Murcko scaffold of each molecule; None until a split needed them."""
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def molecule(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a0, a1 = self.atom_ptr[k], self.atom_ptr[k + 1]
        e0, e1 = self.edge_ptr[k], self.edge_ptr[k + 1]
        return self.x[a0:a1], self.edge_index[:, e0:e1], self.edge_attr[e0:e1]


def cache_key(digest: str, **settings: Any) -> str:
    from rdkit import __version__ as rdkit_version

    text = json.dumps(
        {"v": VERSION, "data": digest, "rdkit": rdkit_version, **settings}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(key: str) -> Featurised | None:
    base = cache_dir("molecules") / key
    arrays, meta = base.with_suffix(".npz"), base.with_suffix(".json")
    if not (arrays.is_file() and meta.is_file()):
        return None
    try:
        with np.load(arrays, allow_pickle=False) as z:
            parts = {
                k: z[k] for k in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr", "rows")
            }
        info = json.loads(meta.read_text())
        return Featurised(
            **parts, smiles=info["smiles"], scaffolds=info.get("scaffolds"), invalid=info["invalid"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged entry is rebuilt


def save(key: str, f: Featurised) -> None:
    base = cache_dir("molecules") / key
    arrays = io.BytesIO()
    np.savez(
        arrays,
        x=f.x,
        edge_index=f.edge_index,
        edge_attr=f.edge_attr,
        atom_ptr=f.atom_ptr,
        edge_ptr=f.edge_ptr,
        rows=f.rows,
    )
    meta = {"smiles": f.smiles, "scaffolds": f.scaffolds, "invalid": f.invalid}
    try:  # the arrays first: an entry counts only once its .json is there
        atomic_write_bytes(base.with_suffix(".npz"), arrays.getvalue())
        atomic_write_text(base.with_suffix(".json"), json.dumps(meta))
    except OSError:
        pass  # an unwritable cache only costs the next run the featurisation
