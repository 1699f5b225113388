"""Which column is what: the entity id, the time, categorical and numeric fields (detected
once, saved in the preprocessing state)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError
from sslkit.events.configs import EventsData


def norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


ID_NAMES = [
    "clientid", "customerid", "userid", "entityid", "accountid", "cardid", "memberid",
    "deviceid", "sessionid", "client", "customer", "user", "entity", "account", "id",
]  # fmt: skip
TIME_NAMES = [
    "eventtime", "timestamp", "eventtimestamp", "datetime", "time", "date", "eventdate",
    "transdate", "transactiondate", "transactiontime", "invoicedate", "ts", "dt",
]  # fmt: skip
CODE_HINTS = ("group", "code", "type", "mcc", "category", "cat", "class", "kind", "channel")


def _pick(columns: list[str], names: list[str]) -> str | None:
    by_norm = {}
    for c in columns:
        by_norm.setdefault(norm_name(c), c)
    for n in names:
        if n in by_norm:
            return by_norm[n]
    return None


def detect_id(columns: list[str], path: Any) -> str:
    found = _pick(columns, ID_NAMES)
    if found is None:
        found = next(
            (c for c in columns if norm_name(c).endswith("id") and len(norm_name(c)) > 2), None
        )
    if found is None:
        raise DataError(
            f"no entity id column found among: {', '.join(map(str, columns))}",
            path=path,
            hint="name it with --set data.id_col=COLUMN",
        )
    return found


def detect_time(columns: list[str], frame: pd.DataFrame | None, path: Any, skip: set[str]) -> str:
    cols = [c for c in columns if c not in skip]
    found = _pick(cols, TIME_NAMES)
    if found is None:
        found = next((c for c in cols if "date" in norm_name(c) or "time" in norm_name(c)), None)
    if found is None and frame is not None:
        found = next((c for c in cols if pd.api.types.is_datetime64_any_dtype(frame[c])), None)
    if found is None:
        raise DataError(
            f"no event time column found among: {', '.join(map(str, columns))}",
            path=path,
            hint="name it with --set data.time_col=COLUMN",
        )
    return found


def detect_fields(
    frame: pd.DataFrame, skip: set[str], cat_cols: tuple[str, ...], num_cols: tuple[str, ...]
) -> tuple[list[str], list[str], list[str]]:
    """Categorical and numeric fields (given ones are kept); also the columns left out."""
    cats, nums, dropped = list(cat_cols), list(num_cols), []
    if cat_cols or num_cols:
        return cats, nums, dropped
    n = max(len(frame), 1)
    for c in frame.columns:
        if c in skip:
            continue
        s = frame[c]
        if pd.api.types.is_bool_dtype(s):
            cats.append(c)
        elif pd.api.types.is_numeric_dtype(s):
            integral = pd.api.types.is_integer_dtype(s) or is_integral(s)
            if integral and any(h in norm_name(c) for h in CODE_HINTS):
                cats.append(c)
            else:
                nums.append(c)
        elif pd.api.types.is_datetime64_any_dtype(s):
            dropped.append(c)
        else:
            # text: a field when values repeat, an identifier or free text when nearly unique
            if s.nunique(dropna=True) <= max(50, 0.2 * n):
                cats.append(c)
            else:
                dropped.append(c)
    return cats, nums, dropped


def is_integral(s: pd.Series) -> bool:
    v = s.dropna().to_numpy()
    return v.size > 0 and np.issubdtype(v.dtype, np.number) and bool(np.all(np.mod(v, 1) == 0))


@dataclass
class Schema:
    id_col: str
    time_col: str
    time_format: str
    cat_cols: list[str]
    num_cols: list[str]
    label_col: str | None  # a column of the events table holding the label
    dropped: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        return cls(**d)

    def columns(self) -> list[str]:
        cols = [self.id_col, self.time_col, *self.cat_cols, *self.num_cols]
        if self.label_col:
            cols.append(self.label_col)
        return list(dict.fromkeys(cols))


def build_schema(config: EventsData, frame: pd.DataFrame, path: Any) -> Schema:
    columns = [str(c) for c in frame.columns]
    for opt in ("id_col", "time_col"):
        name = getattr(config, opt)
        if name and name not in columns:
            raise DataError(
                f"{opt.replace('_col', '')} column {name!r} not found; columns are: "
                f"{', '.join(columns)}",
                path=path,
                hint=f"fix --set data.{opt}=COLUMN",
            )
    id_col = config.id_col or detect_id(columns, path)
    time_col = config.time_col or detect_time(columns, frame, path, {id_col})
    if time_col == id_col:
        raise DataError(f"the id and time columns are both {id_col!r}", path=path)
    for opt in ("cat_cols", "num_cols", "drop_cols"):
        missing = [c for c in getattr(config, opt) if c not in columns]
        if missing:
            raise DataError(
                f"data.{opt} names column {missing[0]!r}, which is not in the table; columns are: "
                f"{', '.join(columns)}",
                path=path,
            )
    label_col = config.labels if config.labels in columns else None
    skip = {id_col, time_col, *config.drop_cols} | ({label_col} if label_col else set())
    cats, nums, dropped = detect_fields(frame, skip, config.cat_cols, config.num_cols)
    both = set(cats) & set(nums)
    if both:
        raise DataError(f"column {sorted(both)[0]!r} is in both data.cat_cols and data.num_cols")
    return Schema(id_col, time_col, config.time_format, cats, nums, label_col, dropped)
