"""Schema inference and preprocessing of tables (pandas + numpy; no torch).

``fit_schema(df, ...)`` looks at the training rows and decides, column by column:

- numeric: imputed with the median, a missing-value indicator added when values are missing,
  scaled (quantile to a normal distribution, or standard);
- categorical / binary: a vocabulary of the frequent values; index 0 is the unknown bucket
  (values never seen, or too rare), index 1 is "missing";
- datetime: expanded into numeric parts (days since 1970, month, weekday, hour);
- excluded, with a message: id-like columns (every value distinct), free text, all-missing
  columns, the target and the columns the user excluded.

The result is a :class:`Schema`, a plain JSON-serialisable object: ``Schema.to_state()`` is what a
run saves and ``Schema.from_state`` rebuilds it, so evaluate and export transform new rows
exactly as training did. ``Schema.transform(df)`` gives ``(num, cat)`` arrays.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError

STATE_VERSION = 1
UNKNOWN, MISSING, FIRST = 0, 1, 2
"""Categorical indices: 0 = unknown/rare value, 1 = missing, 2.. = the vocabulary."""
MISSING_STRINGS = ["", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-"]
N_QUANTILES = 1000
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key|index)$|^(id|uuid|guid|key|index)$|Id$|ID$")


class SchemaWarning(UserWarning):
    """A column was left out or changed (id-like, free text, all missing)."""


def _note(message: str) -> None:
    warnings.warn(message, SchemaWarning, stacklevel=3)


@dataclass
class Schema:
    """What preprocessing fitted on the training rows (see the module docstring)."""

    numeric: list[dict[str, Any]] = field(default_factory=list)
    categorical: list[dict[str, Any]] = field(default_factory=list)
    datetime: dict[str, list[str]] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    scaling: str = "quantile"
    columns: list[str] = field(default_factory=list)
    """The input columns the schema reads (features, before datetime expansion)."""

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "datetime": self.datetime,
            "excluded": self.excluded,
            "target": self.target,
            "scaling": self.scaling,
            "columns": self.columns,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Schema:
        if state.get("version") != STATE_VERSION:
            raise DataError(
                f"saved preprocessing has version {state.get('version')!r}, expected {STATE_VERSION}",
                hint="retrain the run with this version of sslkit-tabular",
            )
        return cls(
            numeric=list(state["numeric"]),
            categorical=list(state["categorical"]),
            datetime=dict(state["datetime"]),
            excluded=dict(state["excluded"]),
            target=state.get("target"),
            scaling=state["scaling"],
            columns=list(state["columns"]),
        )

    # ------------------------------------------------------------------ facts
    @property
    def feature_names(self) -> list[str]:
        return [s["name"] for s in self.numeric] + [s["name"] for s in self.categorical]

    @property
    def cardinalities(self) -> list[int]:
        """Embedding sizes of the categorical features (vocabulary + unknown + missing)."""
        return [FIRST + len(s["vocab"]) for s in self.categorical]

    def info(self) -> dict[str, Any]:
        return {
            "n_num": len(self.numeric),
            "n_cat": len(self.categorical),
            "cardinalities": self.cardinalities,
            "features": self.feature_names,
            "task": self.target["kind"] if self.target else "none",
            "n_classes": len(self.target.get("classes", [])) if self.target else 0,
        }

    # ------------------------------------------------------------------ transform
    def transform(self, df: pd.DataFrame, source: str = "data") -> tuple[np.ndarray, np.ndarray]:
        """``(num float32 (n, n_num), cat int64 (n, n_cat))`` for the rows of ``df``."""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise DataError(
                f"column {missing[0]!r} used in training is absent"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                path=source,
                hint=f"the columns in training were: {', '.join(self.columns)}",
            )
        frame = _expand_datetimes(df, self.datetime, source)
        n = len(df)
        num = np.zeros((n, len(self.numeric)), np.float32)
        for j, spec in enumerate(self.numeric):
            values = _numeric_values(frame[spec["column"]], spec["column"], source, strict=True)
            isnan = np.isnan(values)
            values = np.where(isnan, spec["median"], values)
            num[:, j] = _scale(values, spec, self.scaling)
        cat = np.zeros((n, len(self.categorical)), np.int64)
        for j, spec in enumerate(self.categorical):
            if spec.get("indicator_of") is not None:
                raw = _numeric_values(frame[spec["indicator_of"]], spec["indicator_of"], source)
                cat[:, j] = np.where(np.isnan(raw), FIRST + 1, FIRST)
                continue
            cat[:, j] = _encode_categories(frame[spec["column"]], spec["vocab"])
        return num, cat

    def transform_target(self, df: pd.DataFrame, source: str = "data") -> np.ndarray | None:
        if self.target is None:
            return None
        name = self.target["name"]
        if name not in df.columns:
            return None
        col = df[name]
        if self.target["kind"] == "regression":
            return _numeric_values(col, name, source, strict=True).astype(np.float32)
        lookup = {c: i for i, c in enumerate(self.target["classes"])}
        text = _as_text(col)
        return np.array([lookup.get(v, -1) if v is not None else -1 for v in text], np.int64)

    def describe(self) -> str:
        kinds = {
            "numeric": sum(1 for s in self.numeric if s.get("part") is None),
            "categorical": sum(1 for s in self.categorical if s.get("kind") == "categorical"),
            "binary": sum(1 for s in self.categorical if s.get("kind") == "binary"),
            "datetime": len(self.datetime),
            "missing indicators": sum(1 for s in self.categorical if s.get("indicator_of")),
        }
        parts = ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
        text = f"{len(self.feature_names)} features ({parts})"
        if self.excluded:
            text += "; excluded: " + ", ".join(f"{k} ({v})" for k, v in self.excluded.items())
        return text


# ---------------------------------------------------------------------------------------------
# fitting


def fit_schema(
    df: pd.DataFrame,
    *,
    target: str = "",
    id_column: str = "",
    exclude: tuple[str, ...] | list[str] = (),
    categorical: tuple[str, ...] | list[str] = (),
    scaling: str = "quantile",
    max_categories: int = 256,
    min_category_count: int = 1,
    task: str = "auto",
    source: str = "data",
) -> Schema:
    """Infer the schema of ``df`` (training rows) and fit the preprocessing."""
    if len(df) == 0:
        raise DataError("no data rows", path=source, hint="the file has a header but no rows")
    if len(df.columns) == 0:
        raise DataError("no columns", path=source)
    for name, what in ((target, "target"), (id_column, "data.id_column")):
        if name and name not in df.columns:
            raise DataError(
                f"{what} column {name!r} is not in the table",
                path=source,
                hint=f"columns are: {_list(df.columns)}",
            )
    for name in (*exclude, *categorical):
        if name not in df.columns:
            raise DataError(
                f"column {name!r} (in data.exclude or data.categorical) is not in the table",
                path=source,
                hint=f"columns are: {_list(df.columns)}",
            )
    schema = Schema(scaling=scaling)
    if target:
        schema.target = _fit_target(df[target], target, task, source)
    skip = {target, id_column, *exclude} - {""}
    for name in exclude:
        schema.excluded[name] = "data.exclude"
    forced_cat = set(categorical)
    kinds: dict[str, str] = {}
    for name in df.columns:
        if name in skip:
            continue
        kind, reason = _infer_kind(df[name], str(name), source, forced=name in forced_cat)
        if kind == "excluded":
            schema.excluded[str(name)] = reason
            _note(f"{source}: column {name!r} left out: {reason}")
            continue
        kinds[str(name)] = kind
        schema.columns.append(str(name))
    if not kinds:
        raise DataError(
            "no usable feature columns",
            path=source,
            hint="every column is the target, an id, free text, excluded or all missing",
        )
    schema.datetime = {c: _datetime_parts(df[c]) for c, k in kinds.items() if k == "datetime"}
    frame = _expand_datetimes(df[schema.columns], schema.datetime, source)
    for name in schema.columns:
        kind = kinds[name]
        if kind == "datetime":
            for part in schema.datetime[name]:
                col = f"{name}.{part}"
                schema.numeric.append(
                    _fit_numeric(frame[col], col, scaling, source) | {"part": part}
                )
        elif kind == "numeric":
            spec = _fit_numeric(frame[name], name, scaling, source)
            schema.numeric.append(spec)
        else:
            schema.categorical.append(
                _fit_categorical(frame[name], name, kind, max_categories, min_category_count)
            )
    # missing-value indicators of numeric columns, as binary categorical features
    for spec in list(schema.numeric):
        if spec["n_missing"] > 0 and spec.get("part") is None:
            schema.categorical.append(
                {
                    "name": f"{spec['column']}.missing",
                    "column": spec["column"],
                    "kind": "binary",
                    "vocab": ["0", "1"],
                    "indicator_of": spec["column"],
                }
            )
    return schema


def _list(cols: Any, n: int = 12) -> str:
    cols = [str(c) for c in cols]
    return ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "")


def _as_text(col: pd.Series) -> list[str | None]:
    out: list[str | None] = []
    for v in col.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
        else:
            text = str(v).strip()
            if isinstance(v, float) and v.is_integer():
                text = str(int(v))
            out.append(None if text in MISSING_STRINGS else text)
    return out


def _is_numeric_dtype(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _infer_kind(col: pd.Series, name: str, source: str, forced: bool) -> tuple[str, str]:
    """One of numeric, categorical, binary, datetime or excluded (with the reason)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return ("datetime", "") if col.notna().any() else ("excluded", "all values missing")
    text = (
        col if _is_numeric_dtype(col) else pd.Series(_as_text(col), index=col.index, dtype=object)
    )
    present = text.dropna()
    n = len(present)
    if n == 0:
        return "excluded", "all values missing"
    if forced or pd.api.types.is_bool_dtype(col):
        return ("binary" if present.nunique() <= 2 else "categorical"), ""
    if _is_numeric_dtype(col):
        values = present.to_numpy(dtype=float)
    else:
        parsed = pd.to_numeric(present, errors="coerce")
        bad = parsed.isna().to_numpy()
        if not bad.any():
            values = parsed.to_numpy(dtype=float)
        elif bad.mean() <= 0.05:
            first = present.index[np.argmax(bad)]
            raise DataError(
                f"numeric column holds text {present.loc[first]!r}",
                path=source,
                row=_row_number(col, first),
                column=name,
                hint=(
                    "fix or blank the value; or list the column in data.categorical "
                    "(--set data.categorical=" + name + ") to treat it as categories"
                ),
            )
        else:
            values = None
    if values is not None:
        unique = np.unique(values)
        if len(unique) <= 2:
            return "binary", ""
        integer = np.all(np.mod(values, 1) == 0)
        if integer and len(unique) == n and n >= 20:
            consecutive = unique[-1] - unique[0] == n - 1
            if consecutive or _ID_NAME.search(name):
                return "excluded", "id-like: every value is a distinct integer"
        return "numeric", ""
    strings = present.astype(str)
    if _looks_like_dates(strings):
        return "datetime", ""
    n_unique = strings.nunique()
    if n_unique <= 2:
        return "binary", ""
    mean_len = float(strings.str.len().mean())
    if n_unique > 0.5 * n and mean_len >= 25 and strings.str.contains(" ").mean() > 0.5:
        return "excluded", "free text (long, mostly distinct strings)"
    if n_unique == n and n >= 20:
        return "excluded", "id-like: every value is distinct"
    return "categorical", ""


def _row_number(col: pd.Series, label: Any) -> int:
    """1-based data row number (the header is not counted): the loaders keep each row's
    0-based position in its file as the index label."""
    if isinstance(label, int | np.integer):
        return int(label) + 1
    return int(col.index.get_loc(label)) + 1


def _looks_like_dates(strings: pd.Series) -> bool:
    sample = strings.iloc[:500]
    if not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _to_datetime(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        out = col
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text = pd.Series(_as_text(col), index=col.index, dtype=object)
            out = pd.to_datetime(text, errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _datetime_parts(col: pd.Series) -> list[str]:
    dt = _to_datetime(col).dropna()
    parts = ["days", "month", "weekday"]
    if len(dt) and ((dt.dt.hour != 0) | (dt.dt.minute != 0)).any():
        parts.append("hour")
    return parts


def _expand_datetimes(
    df: pd.DataFrame, datetimes: dict[str, list[str]], source: str
) -> pd.DataFrame:
    if not datetimes:
        return df
    frame = df.copy()
    for name, parts in datetimes.items():
        dt = _to_datetime(df[name])
        for part in parts:
            if part == "days":
                values = (dt - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
            elif part == "month":
                values = dt.dt.month
            elif part == "weekday":
                values = dt.dt.day_of_week
            else:
                values = dt.dt.hour + dt.dt.minute / 60.0
            frame[f"{name}.{part}"] = values.astype(float)
    return frame


def _numeric_values(col: pd.Series, name: str, source: str, strict: bool = False) -> np.ndarray:
    if _is_numeric_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan)
    text = pd.Series(_as_text(col), index=col.index, dtype=object)
    parsed = pd.to_numeric(text, errors="coerce")
    if strict:
        bad = parsed.isna().to_numpy() & text.notna().to_numpy()
        if bad.any():
            first = text.index[np.argmax(bad)]
            raise DataError(
                f"numeric column holds text {text.loc[first]!r}",
                path=source,
                row=_row_number(col, first),
                column=name,
                hint="fix or blank the value",
            )
    return parsed.to_numpy(dtype=float, na_value=np.nan)


def _fit_numeric(col: pd.Series, name: str, scaling: str, source: str) -> dict[str, Any]:
    values = _numeric_values(col, name, source, strict=True)
    ok = values[~np.isnan(values)]
    spec: dict[str, Any] = {
        "name": name,
        "column": name,
        "n_missing": int(np.isnan(values).sum()),
        "median": float(np.median(ok)) if len(ok) else 0.0,
    }
    filled = np.where(np.isnan(values), spec["median"], values)
    spec["mean"] = float(filled.mean())
    spec["std"] = float(filled.std()) or 1.0
    if scaling == "quantile":
        n_q = int(min(N_QUANTILES, max(len(filled), 2)))
        spec["quantiles"] = [float(q) for q in np.quantile(filled, np.linspace(0, 1, n_q))]
    return spec


def _scale(values: np.ndarray, spec: dict[str, Any], scaling: str) -> np.ndarray:
    if scaling == "standard":
        return (values - spec["mean"]) / spec["std"]
    from scipy.special import ndtri

    q = np.asarray(spec["quantiles"])
    ref = np.linspace(0, 1, len(q))
    # as sklearn's QuantileTransformer: average the interpolation from both ends, so that
    # repeated quantiles (many equal values) map to the middle of their range
    u = 0.5 * (np.interp(values, q, ref) - np.interp(-values, -q[::-1], -ref[::-1]))
    eps = 1e-7
    return ndtri(np.clip(u, eps, 1 - eps))


def _fit_categorical(
    col: pd.Series, name: str, kind: str, max_categories: int, min_count: int
) -> dict[str, Any]:
    text = pd.Series(_as_text(col), dtype=object).dropna()
    counts = text.value_counts()
    counts = counts[counts >= max(1, min_count)]
    # most frequent first, ties by value, so the vocabulary does not depend on row order
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
    return {"name": name, "column": name, "kind": kind, "vocab": [v for v, _ in ordered]}


def _encode_categories(col: pd.Series, vocab: list[str]) -> np.ndarray:
    lookup = {v: FIRST + i for i, v in enumerate(vocab)}
    return np.array(
        [MISSING if v is None else lookup.get(v, UNKNOWN) for v in _as_text(col)], np.int64
    )


def _fit_target(col: pd.Series, name: str, task: str, source: str) -> dict[str, Any]:
    text = pd.Series(_as_text(col), dtype=object)
    present = text.dropna()
    if len(present) == 0:
        raise DataError("target column has no values", path=source, column=name)
    if task == "auto":
        numeric = pd.to_numeric(present, errors="coerce")
        if numeric.notna().all():
            values = numeric.to_numpy(dtype=float)
            integer = np.all(np.mod(values, 1) == 0)
            task = "classification" if integer and len(np.unique(values)) <= 20 else "regression"
        else:
            task = "classification"
    if task == "regression":
        _numeric_values(col, name, source, strict=True)
        return {"name": name, "kind": "regression"}
    classes = sorted(present.unique().tolist(), key=_class_key)
    if len(classes) < 2:
        raise DataError(
            f"target has a single class {classes[0]!r}",
            path=source,
            column=name,
            hint="classification needs at least two classes",
        )
    return {"name": name, "kind": "classification", "classes": classes}


def _class_key(v: str) -> tuple[int, Any]:
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)
