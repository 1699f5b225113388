"""Reading event tables: CSV or Parquet files whole, or Parquet in batches of complete entities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def _is_parquet(path: Path) -> bool:
    return path.is_dir() or path.name.lower().endswith(PARQUET_SUFFIXES)


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file (or a folder of Parquet files) as a DataFrame."""
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p, hint="pass --data with a CSV or Parquet file")
    name = p.name.lower()
    try:
        if _is_parquet(p):
            return pd.read_parquet(p, columns=columns)
        if name.endswith(CSV_SUFFIXES):
            if ".txt" in name:  # unknown separator: let the python engine sniff it
                return pd.read_csv(p, sep=None, engine="python", usecols=columns)
            return pd.read_csv(p, sep="\t" if ".tsv" in name else ",", usecols=columns)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read the table: {first}", path=p) from None
    raise DataError(
        "unknown file type",
        path=p,
        hint="use a .csv, .csv.gz, .tsv or .parquet file, or a folder of Parquet files",
    )


def parquet_columns(path: Path) -> list[str]:
    import pyarrow.dataset as ds

    return list(ds.dataset(str(path), format="parquet").schema.names)


def parquet_head(path: Path, rows: int = 10_000) -> pd.DataFrame:
    """The first rows of a Parquet file or folder (for column detection)."""
    import pyarrow.dataset as ds

    for rb in ds.dataset(str(path), format="parquet").to_batches(batch_size=rows):
        if rb.num_rows:
            return rb.to_pandas()
    raise DataError("the table has no rows", path=path)


def iter_frames(
    path: Path, columns: list[str], id_col: str, batch_rows: int
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """DataFrames of complete entities (and each row's 0-based row in the file), read in
    batches of ``batch_rows``; raises a DataError when an entity's rows are not contiguous."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    finished: set[Any] = set()
    carry: pd.DataFrame | None = None
    carry_rows = np.empty(0, np.int64)
    seen = 0
    for rb in dataset.to_batches(columns=columns, batch_size=batch_rows):
        df = rb.to_pandas()
        rows = np.arange(seen, seen + len(df))
        seen += len(df)
        if carry is not None and len(carry):
            df = pd.concat([carry, df], ignore_index=True)
            rows = np.concatenate([carry_rows, rows])
        if not len(df):
            continue
        ids = df[id_col]
        valid = ids.notna().to_numpy()
        vids = ids[valid].to_numpy()
        if not len(vids):
            carry, carry_rows = None, np.empty(0, np.int64)
            yield df, rows
            continue
        last = vids[-1]
        # the trailing run of the last id may go on in the next batch: keep it back
        is_last = (ids == last).to_numpy() & valid
        change = np.flatnonzero(valid & ~is_last)
        cut = int(change[-1]) + 1 if len(change) else 0
        done, done_rows = df.iloc[:cut], rows[:cut]
        carry, carry_rows = df.iloc[cut:], rows[cut:]
        _check_runs(done, done_rows, id_col, finished, path)
        if len(done):
            yield done.reset_index(drop=True), done_rows
    if carry is not None and len(carry):
        _check_runs(carry, carry_rows, id_col, finished, path)
        yield carry.reset_index(drop=True), carry_rows


def _check_runs(df: pd.DataFrame, rows: np.ndarray, id_col: str, finished: set, path: Path) -> None:
    ids = df[id_col]
    keep = ids.notna().to_numpy()
    v = ids[keep].to_numpy()
    if not len(v):
        return
    starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]]))
    run_ids = v[starts]
    for i, key in zip(starts, run_ids):
        if key in finished:
            row = int(rows[np.flatnonzero(keep)[i]]) + 1
            raise DataError(
                f"the events of entity {key!r} are not contiguous (it appears again here)",
                path=path,
                row=row,
                column=id_col,
                hint="streaming needs the rows grouped by entity: sort the file by the id "
                "column once, or set data.stream=false",
            )
        finished.add(key)
