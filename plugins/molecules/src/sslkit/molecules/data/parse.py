"""SMILES to RDKit molecules: parsing, optional standardisation, invalid SMILES reported.

An invalid SMILES (RDKit cannot parse or sanitise it, or it has no atom) is reported with its
1-based data row and its string and skipped; the count is reported once at the end
(``data.strict=true``: the first one stops the run with a :class:`DataError`, exit code 2).
RDKit's own error lines are silenced while parsing: the report here names the row.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sslkit.core.errors import DataError

log = logging.getLogger("sslkit.molecules")

SHOWN = 10
"""Invalid SMILES listed one by one (then only counted)."""


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """RDKit's error and warning log off for the block (it prints a line per bad SMILES)."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


class Standardiser:
    """RDKit MolStandardize: the largest fragment (by heavy atoms; drops counter-ions and
    solvents), then charges neutralised where a neutral form exists (``Uncharger``)."""

    def __init__(self) -> None:
        from rdkit.Chem.MolStandardize import rdMolStandardize

        self.chooser = rdMolStandardize.LargestFragmentChooser()
        self.uncharger = rdMolStandardize.Uncharger()

    def __call__(self, mol: Any) -> Any:
        return self.uncharger.uncharge(self.chooser.choose(mol))


def parse_one(smiles: Any, standardiser: Standardiser | None = None) -> tuple[Any, str]:
    """``(mol, "")``, or ``(None, why)`` for a SMILES RDKit rejects or one without atoms."""
    from rdkit import Chem

    if not isinstance(smiles, str) or not smiles.strip():
        return None, "empty SMILES"
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        return None, "RDKit cannot parse it"
    if standardiser is not None:
        try:
            mol = standardiser(mol)
        except Exception as exc:  # RDKit raises its own error types
            return None, f"standardisation failed ({type(exc).__name__})"
    if mol.GetNumAtoms() == 0:
        return None, "no atoms"
    return mol, ""


def parse_smiles(
    smiles: Sequence[Any],
    *,
    source: str,
    column: str,
    standardise: bool = False,
    strict: bool = False,
    rows: Sequence[int] | None = None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """RDKit molecules of ``smiles`` (None where invalid) and the invalid ones as
    ``{"row", "smiles", "reason"}`` (``row``: 1-based data row, header not counted; ``rows``
    gives each SMILES' 0-based row when not ``range(len(smiles))``)."""
    std = Standardiser() if standardise else None
    mols: list[Any] = []
    bad: list[dict[str, Any]] = []
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            mol, why = parse_one(s, std)
            if mol is None:
                row = (rows[i] if rows is not None else i) + 1
                if strict:
                    raise DataError(
                        f"invalid SMILES {s!r}: {why}",
                        path=source,
                        row=row,
                        column=column,
                        hint="fix or remove the row, or leave data.strict=false to skip invalid "
                        "SMILES",
                    )
                bad.append({"row": row, "smiles": str(s), "reason": why})
            mols.append(mol)
    return mols, bad


def report_invalid(bad: list[dict[str, Any]], total: int, source: str, column: str) -> None:
    """One warning per invalid SMILES (the first :data:`SHOWN`), then the count."""
    for item in bad[:SHOWN]:
        log.warning(
            "%s: row %d, column %r: invalid SMILES %r skipped (%s)",
            source,
            item["row"],
            column,
            item["smiles"],
            item["reason"],
        )
    if bad:
        more = f" ({len(bad) - SHOWN} more not listed)" if len(bad) > SHOWN else ""
        log.warning(
            "%s: %d of %d SMILES invalid and skipped%s; data.strict=true stops at the first",
            source,
            len(bad),
            total,
            more,
        )
