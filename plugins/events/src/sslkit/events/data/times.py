"""Event times: parsed as days since 1970-01-01 (date formats) or as raw numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import ConfigError, DataError
from sslkit.events.data.schema import norm_name

EXCEL_EPOCH_DAYS = 25569.0  # Excel serial day of 1970-01-01 (1900 date system)
DATE_FORMATS = ("datetime", "excel", "unix")


def _bad_row(mask: np.ndarray, rows: np.ndarray) -> tuple[int, int]:
    bad = np.flatnonzero(mask)
    return int(rows[bad[0]]), int(bad.size)


def parse_times(
    s: pd.Series, fmt: str, column: str, path: Any, rows: np.ndarray
) -> tuple[np.ndarray, str]:
    """Times as float64: days since 1970-01-01 for date formats, the raw number otherwise.

    ``rows`` holds the 0-based data row of each value in the file (for error messages).
    """
    if fmt == "auto":
        fmt = guess_time_format(s, column)
    if fmt in ("number", "excel", "unix"):
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            row, count = _bad_row(bad, rows)
            v = s.iloc[int(np.flatnonzero(bad)[0])]
            raise DataError(
                f"time value {v!r} is not a number ({count} such row(s); first shown)",
                path=path,
                row=row + 1,
                column=column,
                hint="fix or remove those rows, or set data.time_format",
            )
        if fmt == "excel":
            values = values - EXCEL_EPOCH_DAYS
        elif fmt == "unix":
            values = values / 86400.0
        return values, fmt
    # datetime
    if pd.api.types.is_datetime64_any_dtype(s):
        dt = s
    else:
        text = s.astype("string")
        dt = pd.to_datetime(text, errors="coerce")
        retry = dt.isna() & text.notna()
        if retry.any():
            dt[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = dt.isna().to_numpy()
    if bad.any():
        row, count = _bad_row(bad, rows)
        v = s.iloc[int(np.flatnonzero(bad)[0])]
        raise DataError(
            f"cannot read time value {v!r} as a date ({count} such row(s); first shown)",
            path=path,
            row=row + 1,
            column=column,
            hint="fix or remove those rows, or set data.time_format=number|excel|unix",
        )
    ns = dt.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
    return ns / 86_400e9, "datetime"


def guess_time_format(s: pd.Series, column: str) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        v = s.dropna().to_numpy(dtype=np.float64)
        named_date = "date" in norm_name(column)
        if v.size and named_date and v.min() >= 20000 and v.max() <= 80000:
            return "excel"  # serial days 1954..2119 in a column named like a date
        return "number"
    numeric = pd.to_numeric(s, errors="coerce")
    share = float(numeric.notna().mean()) if len(s) else 0.0
    if share >= 0.9:
        return "number"
    return "datetime"


def parse_cutoff(value: str, fmt: str) -> float | None:
    if value == "" or value is None:
        return None
    if fmt in DATE_FORMATS:
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ConfigError(
                f"data.cutoff = {value!r} is not a date (times are {fmt}); write it as 2011-09-01"
            ) from None
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return float(ts.value) / 86_400e9
    try:
        return float(value)
    except ValueError:
        raise ConfigError(
            f"data.cutoff = {value!r} is not a number (the time column holds numbers)"
        ) from None
