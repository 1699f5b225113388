"""Reading molecule tables: CSV, TSV, Parquet, ``.smi`` files, the embedded MoleculeNet sets
and pandas DataFrames; finding the SMILES column and the label columns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError

EMBEDDED = {
    "bbbp": ("BBBP.csv", ("p_np",)),
    "esol": ("delaney.csv", ("logp",)),
    "zinc": ("zinc.smi.gz", ()),
}
"""Embedded sets: file in ``sslkit.molecules.datasets`` and label columns (MoleculeNet BBBP
and ESOL; ZINC: 29,445 unlabelled drug-like SMILES for pretraining)."""
SMILES_NAMES = ("smiles", "canonical_smiles", "smi", "isomeric_smiles", "mol")
PARQUET = (".parquet", ".pq")


@dataclass
class Table:
    frame: pd.DataFrame
    source: str
    """How messages name the data (a path, ``<embedded BBBP.csv>``, ``<in-memory DataFrame>``)."""
    digest: str
    """sha256 of the file's bytes (or of the frame's contents): the featurisation cache key."""
    labels: tuple[str, ...] = ()
    """The label columns an embedded set declares."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_table(path: str, max_rows: int = 0) -> Table:
    """The table ``path`` names: an embedded set (``""``, ``bbbp``, ``esol``) or a file."""
    key = path.strip().lower() or "bbbp"
    if key in EMBEDDED:
        name, labels = EMBEDDED[key]
        data = resources.files("sslkit.molecules.datasets").joinpath(name).read_bytes()
        source = f"<embedded {name}>"
        return Table(_frame(data, name, source, max_rows), source, _digest(data), labels)
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(
            "no such file",
            path=p,
            hint="give a CSV, TSV, Parquet or .smi file (or one of them gzipped), or an embedded "
            "set: " + ", ".join(EMBEDDED),
        )
    data = p.read_bytes()
    if not data.strip():
        raise DataError("the file is empty", path=p, hint="give a table with a SMILES column")
    frame = _frame(data, p.name, str(p), max_rows)
    if len(frame) == 0:
        raise DataError("the file has no data rows", path=p, hint="it holds only a header")
    return Table(frame.reset_index(drop=True), str(p), _digest(data))


def frame_table(frame: Any) -> Table:
    """A pandas DataFrame as a :class:`Table` (its digest from its contents)."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"cannot read a {type(frame).__name__} as molecules",
            hint="give a pandas DataFrame with a SMILES column",
        )
    source = f"<in-memory DataFrame {frame.shape[0]}x{frame.shape[1]}>"
    if len(frame) == 0:
        raise DataError("the DataFrame has no rows", path=source)
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    h = pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy().tobytes()
    return Table(frame, source, _digest(h + "|".join(frame.columns).encode()))


def _frame(data: bytes, name: str, source: str, max_rows: int) -> pd.DataFrame:
    """The table in a file's bytes, by its name's suffix (``.csv``, ``.tsv``, Parquet,
    ``.smi``; any of them gzipped, ``.csv.gz`` as MoleculeNet ships HIV and MUV)."""
    import io

    if name.lower().endswith(".gz"):
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"not a readable gzip file ({exc})", path=source) from None
        name = name[:-3]
    suffix = Path(name).suffix.lower()
    if suffix in PARQUET:
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise DataError(
                f"not a readable Parquet file ({type(exc).__name__})", path=source
            ) from None
        return frame.head(max_rows) if max_rows else frame
    if suffix == ".smi":
        return _smi(data, source, max_rows)
    return _csv(data, source, "\t" if suffix == ".tsv" else ",", max_rows)


def _csv(data: bytes, source: str, sep: str, max_rows: int) -> pd.DataFrame:
    import io

    try:
        frame = pd.read_csv(io.BytesIO(data), sep=sep, nrows=max_rows or None, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", path=source) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable table: {str(exc).splitlines()[0]}", path=source) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _smi(data: bytes, source: str, max_rows: int) -> pd.DataFrame:
    """A ``.smi`` file: one molecule a line, ``SMILES [name]`` separated by white space; a
    first line whose first field is ``smiles`` is a header."""
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        rows.append((fields[0], fields[1].strip() if len(fields) > 1 else ""))
    if rows and rows[0][0].lower() == "smiles":
        rows = rows[1:]
    rows = rows[:max_rows] if max_rows else rows
    return pd.DataFrame(rows, columns=["smiles", "name"])


def smiles_column(frame: pd.DataFrame, named: str, source: str) -> str:
    """The SMILES column: ``named``, a column called smiles (any case), or the first text
    column whose first values RDKit parses."""
    columns = list(frame.columns)
    if named:
        if named not in columns:
            raise DataError(
                f"no column {named!r}; the columns are: {', '.join(columns)}",
                path=source,
                hint="set data.smiles to the SMILES column",
            )
        return named
    lower = {c.lower(): c for c in columns}
    for name in SMILES_NAMES:
        if name in lower:
            return lower[name]
    from sslkit.molecules.data.parse import parse_one, quiet_rdkit

    with quiet_rdkit():
        for c in columns:
            values = frame[c].dropna().head(20)
            text = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
            if not text or values.empty:
                continue
            ok = sum(parse_one(v)[0] is not None for v in values if isinstance(v, str))
            if ok >= max(1, int(0.8 * len(values))):
                return c
    raise DataError(
        f"no SMILES column found; the columns are: {', '.join(columns)}",
        path=source,
        hint="name it with data.smiles=<column>",
    )


def label_columns(
    frame: pd.DataFrame, named: tuple[str, ...], skip: tuple[str, ...], table: Table
) -> list[str]:
    """The label columns: ``named`` (each must exist), the embedded set's, or every numeric
    column but ``skip`` (the SMILES and id columns)."""
    columns = list(frame.columns)
    if named:
        missing = [c for c in named if c not in columns]
        if missing:
            raise DataError(
                f"no label column {missing[0]!r}; the columns are: {', '.join(columns)}",
                path=table.source,
                hint="set data.labels to existing columns (or leave it empty)",
            )
        return list(named)
    if table.labels:
        return [c for c in table.labels if c in columns]
    return [c for c in columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c].dtype)]


def label_matrix(frame: pd.DataFrame, columns: list[str], source: str) -> np.ndarray:
    """``(rows, tasks)`` float64 labels; empty cells are NaN (missing labels, as Tox21)."""
    out = np.full((len(frame), len(columns)), np.nan)
    for j, c in enumerate(columns):
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = values.isna() & frame[c].notna() & (frame[c].astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"label {frame[c].iloc[row]!r} is not a number",
                path=source,
                row=row + 1,
                column=c,
                hint="labels are numbers (0/1 for classes); leave a missing label empty",
            )
        out[:, j] = values.to_numpy(dtype=np.float64)
    return out
