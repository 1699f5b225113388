"""What chemists get without pretraining: Morgan (ECFP4-like) fingerprints, radius 2, 2,048
bits, of each molecule's canonical SMILES (the default task's baseline).

Scored by core beside the embeddings (``sslkit.core.evaluate.payoff``) with the same logistic
probe and with gradient boosting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings

RADIUS = 2
BITS = 2048


def morgan_fingerprints(
    smiles: Sequence[str], radius: int = RADIUS, bits: int = BITS
) -> np.ndarray:
    """``(molecules, bits)`` float32 0/1 Morgan fingerprints (RDKit's
    ``rdFingerprintGenerator.GetMorganGenerator``; no chirality, as
    ``GetMorganFingerprintAsBitVect`` by default)."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from sslkit.molecules.data.parse import quiet_rdkit

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(smiles), bits), dtype=np.float32)
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s)
            if mol is not None:
                out[i] = gen.GetFingerprintAsNumPy(mol)
    return out


def morgan(ctx: Any, split: str) -> Embeddings:
    """The split's molecules as Morgan fingerprints, in the order of ``ctx.embeddings(split)``."""
    data = ctx.data
    emb = ctx.embeddings(split)
    smiles = [data.smiles[i] for i in data.split_index(split)]
    return Embeddings(emb.ids, morgan_fingerprints(smiles), emb.y)
