"""Feature tables of items and users (the inputs of the two-tower model, Yao et al. 2021):
categorical, numeric, multi-valued and short-text columns, each turned into a padded matrix of
token ids aligned to the rows of an id map.

- ``categorical``: one token, the column's value (``0`` = missing).
- ``numeric``: one token, the value's quantile bucket (``numeric_buckets``; ``0`` = missing),
  as the paper's towers embed bucketised numbers.
- ``multi``: the values of a cell split on ``data.multi_separator`` (e.g. ``red|blue``), up to
  ``MAX_VALUES`` tokens.
- ``text``: the lower-case words of a cell (letters and digits), up to ``MAX_VALUES`` tokens.

Types are found from the values unless ``data.feature_types`` names them (``col:kind,...``):
numbers -> numeric; cells holding the separator -> multi; cells of two words or more on average
-> text; anything else -> categorical. A row of the id map without a row in the table gets
the missing token in every column (counted: ``<space>_features_missing``); table rows naming
no known id are counted (``<space>_features_unused``), repeated ids keep their first row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError, UsageError

KINDS = ("categorical", "numeric", "multi", "text")
MAX_VALUES = 16
WORD = re.compile(r"[a-z0-9]+")


@dataclass
class FeatureTable:
    """Token matrices of one space's features, rows aligned to the space's id map."""

    names: list[str]
    kinds: list[str]
    tokens: list[np.ndarray]
    """``(rows, length)`` int64 per feature; ``0`` pads and marks a missing value."""
    vocab: list[int]
    """Embedding rows per feature (the largest token + 1)."""
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{n}:{k}" for n, k in zip(self.names, self.kinds))


def parse_types(spec: str) -> dict[str, str]:
    """``"Description:text,UnitPrice:numeric"`` -> ``{column: kind}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, kind = part.rpartition(":")
        if not name or kind not in KINDS:
            raise UsageError(
                f"data.feature_types: {part!r} is not column:kind with a kind among "
                f"{', '.join(KINDS)}"
            )
        out[name] = kind
    return out


def infer_kind(values: pd.Series, separator: str) -> str:
    cells = values.dropna()
    if len(cells) == 0:
        return "categorical"
    if pd.api.types.is_numeric_dtype(cells) or pd.to_numeric(cells, errors="coerce").notna().all():
        return "numeric"
    text = cells.astype(str)
    if separator and text.str.contains(separator, regex=False).any():
        return "multi"
    if text.str.split().str.len().mean() >= 2:
        return "text"
    return "categorical"


def _cell_values(values: pd.Series, kind: str, separator: str, buckets: int) -> list[list[str]]:
    """The string values of each cell (``[]`` when missing)."""
    missing = values.isna().to_numpy()
    if kind == "numeric":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(x)
        out: list[list[str]] = [[] for _ in range(len(x))]
        if ok.any():
            edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, buckets + 1)[1:-1]))
            b = np.searchsorted(edges, x[ok], side="right")
            for i, v in zip(np.flatnonzero(ok), b):
                out[i] = [f"{int(v):05d}"]  # sorts as the buckets do
        return out
    text = values.astype(str).to_numpy()
    if kind == "categorical":
        return [[] if m else [t] for t, m in zip(text, missing)]
    if kind == "multi":
        return [[] if m else [v.strip() for v in t.split(separator) if v.strip()][:MAX_VALUES]
                for t, m in zip(text, missing)]  # fmt: skip
    return [[] if m else WORD.findall(t.lower())[:MAX_VALUES] for t, m in zip(text, missing)]


def _tokens(cells: list[list[str]]) -> tuple[np.ndarray, int]:
    """Padded token ids (vocabulary: sorted distinct values, ``1..V``; ``0`` = pad)."""
    vocab = {v: i + 1 for i, v in enumerate(sorted({v for c in cells for v in c}))}
    width = max(1, max((len(c) for c in cells), default=1))
    out = np.zeros((len(cells), width), np.int64)
    for r, c in enumerate(cells):
        out[r, : len(c)] = [vocab[v] for v in c]
    return out, len(vocab) + 1


def build_table(frame: pd.DataFrame, id_column: str, ids: np.ndarray, space: str, source: str,
                types: dict[str, str], separator: str = "|", buckets: int = 16) -> FeatureTable:  # fmt: skip
    """The features of ``frame`` (one row per id in ``id_column``) for the id map ``ids``."""
    columns = [c for c in frame.columns if c != id_column]
    unknown = sorted(set(types) - set(columns))
    if unknown:
        raise DataError(
            f"data.feature_types names {unknown[0]!r}, not a column of the {space} feature "
            f"table; its columns are {', '.join(map(str, frame.columns))}",
            path=source,
        )
    if not columns:
        raise DataError(f"the {space} feature table has no column besides {id_column!r}",
                        path=source)  # fmt: skip
    keys = frame[id_column].astype(str).str.strip()
    repeated = keys.duplicated()
    frame, keys = frame[~repeated.to_numpy()], keys[~repeated.to_numpy()]
    where = pd.Series(np.arange(len(keys)), index=keys.to_numpy())
    at = where.reindex(ids).to_numpy()
    found = ~np.isnan(at)
    aligned = frame.iloc[at[found].astype(np.int64)].reset_index(drop=True)
    counts = {
        f"{space}_features_missing": int((~found).sum()),
        f"{space}_features_unused": int(len(keys) - found.sum()),
        f"{space}_features_repeated": int(repeated.sum()),
    }
    names, kinds, tokens, vocab = [], [], [], []
    for column in columns:
        kind = types.get(column) or infer_kind(frame[column], separator)
        cells_found = _cell_values(aligned[column], kind, separator, buckets)
        cells: list[list[str]] = [[] for _ in range(len(ids))]
        for r, c in zip(np.flatnonzero(found), cells_found):
            cells[r] = c
        t, v = _tokens(cells)
        names.append(str(column))
        kinds.append(kind)
        tokens.append(t)
        vocab.append(v)
    return FeatureTable(names, kinds, tokens, vocab, counts)


def read_table(path: str, space: str) -> pd.DataFrame:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"no such {space} feature file", path=p,
                        hint=f"give a CSV, TSV or Parquet file in data.{space}_features")  # fmt: skip
    if p.stat().st_size == 0:
        raise DataError(f"the {space} feature file is empty", path=p)
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(p)
        else:
            sep = "\t" if ".tsv" in name else ","
            frame = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=True)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the {space} feature table: {exc}".splitlines()[0],
                        path=p) from None  # fmt: skip
    if len(frame) == 0:
        raise DataError(f"the {space} feature table has no rows", path=p)
    frame.columns = [str(c) for c in frame.columns]
    for c in frame.columns:  # numbers read as text become numbers again
        if frame[c].dtype == object:
            n = pd.to_numeric(frame[c], errors="coerce")
            if n.notna().sum() == frame[c].notna().sum() and frame[c].notna().any():
                frame[c] = n
    return frame


def id_column_of(frame: pd.DataFrame, wanted: str, names: tuple[str, ...], space: str,
                 source: str) -> str:  # fmt: skip
    from sslkit.recsys.data.reading import find_column

    found = find_column(list(frame.columns), wanted, names, f"{space} id", source,
                        key=f"data.{space}_feature_id")  # fmt: skip
    assert found is not None
    return found


def features_for(cfg: Any, space: str, ids: np.ndarray, builtin: pd.DataFrame | None,
                 id_names: tuple[str, ...]) -> FeatureTable | None:  # fmt: skip
    """The feature table of ``space`` (``data.<space>_features``): a file, ``none``, or ``""``
    for the data's own (Online Retail's item descriptions and prices)."""
    path = str(getattr(cfg, f"{space}_features", "") or "")
    if path.strip().lower() == "none":
        return None
    types = parse_types(getattr(cfg, "feature_types", "") or "")
    sep = getattr(cfg, "multi_separator", "|") or "|"
    if path:
        frame = read_table(path, space)
        column = id_column_of(frame, getattr(cfg, f"{space}_feature_id", ""), id_names, space,
                              path)  # fmt: skip
        return build_table(frame, column, ids, space, path, types, sep)
    if builtin is None:
        return None
    types = {**{c: k for c, k in (("Description", "text"), ("UnitPrice", "numeric"))
                if c in builtin.columns}, **types}  # fmt: skip
    return build_table(builtin, "id", ids, space, "<the interactions' own columns>", types, sep)
