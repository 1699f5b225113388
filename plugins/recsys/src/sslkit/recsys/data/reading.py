"""Reading interactions: CSV, TSV, Parquet, the LightGCN text format (``user item item ...`` per
line), pandas DataFrames and the embedded UCI Online Retail purchases.

Every reader returns an :class:`Interactions` table with the columns ``user``, ``item`` (strings:
the user's own ids), ``time`` (float, NaN when the data has none) and ``weight`` (float, 1 when
absent), in the file's row order, plus ``row`` (the file's row or line number, for messages).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError

USER_NAMES = ("user", "user_id", "userid", "customer_id", "customerid", "uid")
ITEM_NAMES = ("item", "item_id", "itemid", "product_id", "movie_id", "stockcode", "iid")
TIME_NAMES = ("timestamp", "time", "date", "datetime", "ts", "invoicedate")
PARQUET = (".parquet", ".pq")
SAMPLE = "online_retail_sample.csv.gz"
EMBEDDED = ("online-retail", "online-retail-sample")


@dataclass
class Interactions:
    frame: pd.DataFrame
    """Columns ``user``, ``item`` (str), ``time``, ``weight`` (float), ``row`` (int)."""
    source: str
    """How messages name the data (a path, ``<embedded online-retail>``, a DataFrame)."""
    dropped: dict[str, int]
    """Rows left out while reading, by reason (no customer id, returns, low weight)."""
    id_columns: tuple[str, str] = ("", "")
    """The file's user and item columns (a feature table's id column may share the name)."""
    item_table: pd.DataFrame | None = None
    """Item features the interactions carry themselves (column ``id`` and the features):
    Online Retail's ``Description`` and ``UnitPrice``."""


def find_column(columns: list[str], wanted: str, names: tuple[str, ...], what: str,
                source: str, required: bool = True, key: str = "") -> str | None:  # fmt: skip
    """The column ``wanted`` names, else the first of ``names`` (any case); a missing one is
    a :class:`DataError` listing the columns (``key``: the option that names it)."""
    key = key or f"data.{what}_column"
    if wanted:
        if wanted not in columns:
            raise DataError(
                f"no {what} column {wanted!r}; the columns are {', '.join(map(str, columns))}",
                path=source,
                hint=f"set {key} to one of them",
            )
        return wanted
    lower = {str(c).lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    if not required:
        return None
    raise DataError(
        f"no {what} column; the columns are {', '.join(map(str, columns))}",
        path=source,
        hint=f"name it with {key} (looked for {', '.join(names)})",
    )


def _times(values: pd.Series, source: str, column: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(values, errors="coerce")
    if (numbers.notna() | values.isna()).all():
        return numbers.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"cannot read {values.iloc[row]!r} as a time",
            path=source,
            row=row + 2,  # 1-based, after the header line
            column=column,
            hint="give numbers (e.g. Unix seconds) or dates, or unset data.time_column",
        )
    return (parsed.astype("int64") / 1e9).to_numpy(dtype=np.float64)


def from_frame(frame: pd.DataFrame, cfg: Any, source: str, first_row: int = 2) -> Interactions:
    """The interactions of a table (columns found by ``cfg``'s names or the usual ones)."""
    if len(frame) == 0:
        raise DataError("no interactions (the table is empty)", path=source)
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    user = find_column(columns, cfg.user_column, USER_NAMES, "user", source)
    item = find_column(columns, cfg.item_column, ITEM_NAMES, "item", source)
    time = find_column(columns, cfg.time_column, TIME_NAMES, "time", source, required=False)
    weight = find_column(columns, cfg.weight_column, (), "weight", source, required=False)
    dropped: dict[str, int] = {}
    rows = np.arange(len(frame)) + first_row
    missing = frame[user].isna() | frame[item].isna()
    if missing.any():
        dropped["missing user or item"] = int(missing.sum())
    out = pd.DataFrame(
        {
            "user": _ids(frame[user]),
            "item": _ids(frame[item]),
            "time": _times(frame[time], source, time) if time else np.nan,
            "weight": 1.0,
            "row": rows,
        }
    )
    if weight:
        w = pd.to_numeric(frame[weight], errors="coerce")
        if w.isna().any():
            row = int(np.flatnonzero(w.isna().to_numpy())[0])
            raise DataError(
                f"cannot read {frame[weight].iloc[row]!r} as a number",
                path=source, row=int(rows[row]), column=weight,
            )  # fmt: skip
        out["weight"] = w.to_numpy(dtype=np.float64)
        low = out["weight"] <= cfg.min_weight
        if low.any():
            dropped[f"weight <= {cfg.min_weight:g}"] = int(low.sum())
        missing = missing | low
    out = out[~missing.to_numpy()].reset_index(drop=True)
    if len(out) == 0:
        raise DataError("no interactions left after dropping empty ids", path=source)
    return Interactions(out, source, dropped, (user, item))


def _ids(values: pd.Series) -> np.ndarray:
    """Ids as strings; floats that are whole numbers lose their ``.0`` (pandas reads an id
    column with empty cells as floats)."""
    if pd.api.types.is_float_dtype(values):
        v = values.to_numpy()
        whole = np.isfinite(v) & (v == np.round(v))
        out = values.astype(str).to_numpy(dtype=object)
        out[whole] = v[whole].astype(np.int64).astype(str)
        return out.astype(str)
    return values.astype(str).to_numpy(dtype=str)


def read_lightgcn(text: str, source: str) -> Interactions:
    """LightGCN's format: each line ``user item item ...`` (whitespace separated)."""
    users: list[str] = []
    items: list[str] = []
    rows: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 1:
            users.extend([parts[0]] * (len(parts) - 1))
            items.extend(parts[1:])
            rows.extend([number] * (len(parts) - 1))
    if not users:
        raise DataError("no interactions (no line `user item ...`)", path=source)
    frame = pd.DataFrame({"user": users, "item": items, "time": np.nan, "weight": 1.0, "row": rows})
    return Interactions(frame, source, {})


def online_retail(frame: pd.DataFrame, source: str) -> Interactions:
    """UCI Online Retail as customer x product purchases: ``CustomerID`` x ``StockCode`` at
    ``InvoiceDate`` (an Excel serial day, as the embedded sample has it, or a date string, as
    the UCI file exported to CSV has it); rows without a customer and returns (quantity <= 0,
    invoices ``C...``) are left out and counted."""
    frame = frame.assign(
        Quantity=pd.to_numeric(frame["Quantity"], errors="coerce"),
        InvoiceDate=_times(frame["InvoiceDate"], source, "InvoiceDate"),
    )
    if "InvoiceNo" not in frame:
        frame = frame.assign(InvoiceNo="")
    no_customer = frame["CustomerID"].isna()
    returns = ~no_customer & (
        (frame["Quantity"] <= 0) | frame["InvoiceNo"].astype(str).str.startswith("C")
    )
    kept = frame[~(no_customer | returns)]
    out = pd.DataFrame(
        {
            "user": _ids(kept["CustomerID"]),
            "item": kept["StockCode"].astype(str).to_numpy(dtype=str),
            "time": kept["InvoiceDate"].to_numpy(dtype=np.float64),
            "weight": 1.0,
            "row": kept.index.to_numpy() + 2,
        }
    ).reset_index(drop=True)
    dropped = {"no customer id": int(no_customer.sum()), "returns": int(returns.sum())}
    return Interactions(out, source, dropped, ("CustomerID", "StockCode"), retail_items(kept))


def retail_items(kept: pd.DataFrame) -> pd.DataFrame | None:
    """One row per ``StockCode``: its most frequent ``Description`` and median ``UnitPrice``."""
    wanted = [c for c in ("Description", "UnitPrice") if c in kept.columns]
    if not wanted:
        return None
    frame = kept.assign(id=kept["StockCode"].astype(str))
    parts = {}
    if "Description" in wanted:
        parts["Description"] = frame.groupby("id")["Description"].agg(
            lambda s: s.mode().iloc[0] if s.notna().any() else np.nan
        )
    if "UnitPrice" in wanted:
        price = pd.to_numeric(frame["UnitPrice"], errors="coerce")
        parts["UnitPrice"] = price.groupby(frame["id"]).median()
    return pd.DataFrame(parts).rename_axis("id").reset_index()


def embedded_bytes(name: str) -> tuple[bytes, str]:
    """The bytes of an embedded data set and its name for messages. ``online-retail`` is the
    40,000-row sample sslkit-events ships (read from its package, not copied again); without
    sslkit-events, the 800-customer sample this package ships."""
    if name == "online-retail":
        try:
            found = resources.files("sslkit.events.datasets").joinpath("online_retail_40k.csv.gz")
            if found.is_file():
                return found.read_bytes(), "<embedded online-retail (sslkit-events' copy)>"
        except (ModuleNotFoundError, FileNotFoundError):
            pass
        name = "online-retail-sample"
    data = resources.files("sslkit.recsys.datasets").joinpath(SAMPLE).read_bytes()
    return data, "<embedded online-retail-sample>"


def read_embedded(name: str) -> Interactions:
    data, source = embedded_bytes(name)
    frame = pd.read_csv(
        io.BytesIO(data), compression="gzip", dtype={"InvoiceNo": str, "StockCode": str}
    )
    return online_retail(frame, source)


def read_path(path: str, cfg: Any) -> Interactions:
    """The interactions ``path`` names: an embedded data set or a file."""
    key = path.strip().lower() or "online-retail"
    if key in EMBEDDED:
        return read_embedded(key)
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(
            "no such file",
            path=p,
            hint="give a CSV, TSV, Parquet or LightGCN .txt file, or an embedded set: "
            + ", ".join(EMBEDDED),
        )
    fmt = cfg.format
    suffix = "".join(p.suffixes[-2:]).lower() if p.suffix == ".gz" else p.suffix.lower()
    if fmt == "auto":
        fmt = (
            "parquet" if suffix in PARQUET
            else "tsv" if suffix.startswith(".tsv")
            else "lightgcn" if suffix.startswith(".txt")
            else "csv"
        )  # fmt: skip
    if p.stat().st_size == 0:
        raise DataError("the file is empty", path=p, hint="give one interaction a row")
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(p)
        elif fmt == "lightgcn":
            return read_lightgcn(p.read_text(), str(p))
        else:
            frame = pd.read_csv(p, sep="\t" if fmt == "tsv" else ",", dtype=str,
                                keep_default_na=True)  # fmt: skip
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the file as {fmt}: {exc}".splitlines()[0], path=p) from None
    if {"CustomerID", "StockCode", "InvoiceDate", "Quantity"} <= set(frame.columns) and not (
        cfg.user_column or cfg.item_column
    ):
        return online_retail(frame, str(p))
    return from_frame(frame, cfg, str(p))
