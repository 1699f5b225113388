"""Reading tables: CSV and Parquet files (whole, or Parquet in record batches), the embedded
Adult data, and the seeded train/test split of row numbers."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError
from sslkit.tabular.schema import MISSING_STRINGS

ADULT = "adult"
ADULT_TARGET = "incomes"
REGISTERED = {ADULT: "UCI Adult census income (embedded): 32,561 train and 16,281 test rows"}
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".data", ".test", ".gz", ".bz2", ".zip", ".xz")
PARQUET_SUFFIXES = (".parquet", ".pq")


# ---------------------------------------------------------------------------------------------
# reading files


def _embedded(name: str) -> Any:
    return resources.files("sslkit.tabular.datasets").joinpath(name)


def read_adult(max_rows: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded UCI Adult train and test files (labels of the test file lose their '.')."""
    frames = []
    for name in ("adult.data.gz", "adult.test.gz"):
        with _embedded(name).open("rb") as fh:
            df = _read_csv(fh, f"<embedded {name}>", max_rows, compression="gzip")
        df[ADULT_TARGET] = df[ADULT_TARGET].astype(str).str.strip().str.rstrip(".")
        frames.append(df)
    return frames[0], frames[1]


def _read_csv(source: Any, label: str, max_rows: int = 0, **kwargs: Any) -> pd.DataFrame:
    sep = "\t" if str(label).endswith((".tsv", ".tsv.gz")) else ","
    try:
        df = pd.read_csv(
            source,
            sep=sep,
            skipinitialspace=True,
            na_values=MISSING_STRINGS,
            keep_default_na=True,
            nrows=max_rows or None,
            low_memory=False,
            **kwargs,
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            "the file is empty", path=label, hint="give a CSV with a header row"
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable CSV: {exc}", path=label) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text ({exc.reason})", path=label, hint="save it as UTF-8 CSV"
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise DataError("the file has no data rows", path=label, hint="it holds only a header")
    return df


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES or path.is_dir()


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of ``path`` in the order their rows are numbered: the file itself, or a
    folder's files sorted by relative path, skipping hidden and ``_``-prefixed names (as
    pyarrow's dataset discovery does: ``_SUCCESS``, ``.crc``)."""
    if not path.is_dir():
        return [path]
    files = [
        f
        for f in path.rglob("*")
        if f.is_file()
        and not any(part.startswith((".", "_")) for part in f.relative_to(path).parts)
    ]
    return sorted(files, key=lambda f: f.relative_to(path).as_posix())


def read_table(path: str | Path, max_rows: int = 0) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (the first ``max_rows`` rows when > 0)."""
    p = Path(path)
    if not p.exists():
        raise DataError(
            "no such file",
            path=p,
            hint=f"give a CSV or Parquet file, or a registered data set ({', '.join(REGISTERED)})",
        )
    if _is_parquet(p):
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = parquet_files(p)
        if not files:
            raise DataError("the folder holds no Parquet files", path=p)
        try:
            if max_rows:
                batches, n = [], 0
                for f in files:
                    with pq.ParquetFile(f, pre_buffer=False) as pf:
                        for batch in pf.iter_batches(batch_size=min(max_rows, 65536)):
                            batches.append(batch)
                            n += batch.num_rows
                            if n >= max_rows:
                                break
                    if n >= max_rows:
                        break
                table = pa.Table.from_batches(batches) if batches else pq.read_table(files[0])
                df = table.to_pandas().iloc[:max_rows]
            else:
                table = pa.concat_tables([pq.read_table(f) for f in files])
                df = table.to_pandas()
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise DataError(f"not a readable Parquet file: {exc}", path=p) from None
        df.columns = [str(c) for c in df.columns]
        if len(df) == 0:
            raise DataError("the file has no data rows", path=p)
        return df.reset_index(drop=True)
    if p.stat().st_size == 0:
        raise DataError("the file is empty", path=p, hint="give a CSV with a header row")
    return _read_csv(p, str(p), max_rows)


def split_mask(row_numbers: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """True for held-out (test) rows: a seeded hash of the row number (splitmix64)."""
    z = row_numbers.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return u < fraction


def parquet_frames(
    files: list[Path], read_batch: int, max_rows: int = 0, *, pre_buffer: bool = False
) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(offset, frame)`` of consecutive rows of ``files``, at most ``read_batch`` rows a
    frame and ``max_rows`` in all (0: every row); ``offset`` numbers rows across files.

    Each file is read with ``ParquetFile.iter_batches``, which holds about one record batch at a
    time; the ``pyarrow.dataset`` scanner reads ahead, and its memory grows with the rows (115
    MB at 100k rows, 658 MB at 2M in benchmarks/export.py). ``pre_buffer`` (pyarrow's default is
    on) coalesces reads of the whole file ahead: off, the reader holds about one record batch
    (35-40 MB at 2M rows instead of 185 MB).
    """
    import pyarrow.parquet as pq

    offset = 0
    limit = max_rows or None
    for file in files:
        try:
            reader = pq.ParquetFile(file, pre_buffer=pre_buffer)
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise DataError(f"not a readable Parquet file: {exc}", path=file) from None
        with reader:
            for batch in reader.iter_batches(batch_size=read_batch):
                df = batch.to_pandas()
                if limit is not None and offset + len(df) > limit:
                    df = df.iloc[: limit - offset]
                if len(df):
                    df.index = pd.RangeIndex(offset, offset + len(df))
                    yield offset, df
                offset += len(df)
                if limit is not None and offset >= limit:
                    return
