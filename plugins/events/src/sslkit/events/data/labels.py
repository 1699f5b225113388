"""Entity labels: read from a file, mapped to targets (class indices or numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError
from sslkit.events.data.chunks import clean_ids
from sslkit.events.data.reading import read_table
from sslkit.events.data.schema import detect_id, is_integral


def read_label_file(path: Path, id_col: str, label_col: str) -> pd.Series:
    table = read_table(path)
    cols = [str(c) for c in table.columns]
    key = id_col if id_col in cols else detect_id(cols, path)
    if label_col:
        if label_col not in cols:
            raise DataError(
                f"label column {label_col!r} not found; columns are: {', '.join(cols)}",
                path=path,
                hint="fix --set data.label_col=COLUMN",
            )
        col = label_col
    else:
        others = [c for c in cols if c != key]
        if len(others) != 1:
            raise DataError(
                f"the labels file has columns {', '.join(cols)}: which one is the label?",
                path=path,
                hint="name it with --set data.label_col=COLUMN",
            )
        col = others[0]
    table = table.dropna(subset=[key])
    ids = clean_ids(table[key])
    dup = ids.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"entity {ids.iloc[i]!r} has two labels", path=path, row=i + 1, column=str(key)
        )
    return pd.Series(table[col].to_numpy(), index=pd.Index(ids.to_numpy()), name=col)


def label_spec(values: pd.Series, kind: str) -> dict[str, Any]:
    """How labels map to targets: classes (classification) or nothing (regression)."""
    v = values.dropna()
    if kind == "auto":
        numeric = pd.api.types.is_numeric_dtype(v)
        many = v.nunique() > 20
        kind = "regression" if numeric and many and not is_integral(v) else "classification"
        if numeric and many and is_integral(v) and v.nunique() > 50:
            kind = "regression"
    if kind == "classification":
        classes = sorted(v.unique().tolist(), key=lambda x: (str(type(x)), x))
        return {"kind": "classification", "classes": [_json_scalar(c) for c in classes]}
    return {"kind": "regression"}


def _json_scalar(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x


def encode_labels(values: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """Targets: class index (-1 when missing or unknown) or float (nan when missing)."""
    if spec["kind"] == "classification":
        index = pd.Index(spec["classes"])
        codes = index.get_indexer(values.map(_json_scalar).to_numpy(dtype=object))
        return codes.astype(np.int64)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
