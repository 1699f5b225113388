"""Loading tables: CSV, Parquet (in memory or streamed), pandas DataFrames, the embedded Adult.

``load_data(config, state=None)`` is the plugin's loader. Rows become two arrays, ``num``
(scaled numeric features, float32) and ``cat`` (category indices, int64); a batch is the dict
``{"num": (B, n_num), "cat": (B, n_cat)}`` (a key is left out when the table has no such
feature). The fitted :class:`~sslkit.tabular.schema.Schema` is the ``state`` saved with a run.

Splits: ``"train"`` and ``"test"``. With a ``test_path`` (the Adult train and test files) they
are the two files; with one file, a seeded hash of the row number holds out ``test_fraction``
of the rows (the same rule in memory and streamed). Pretraining uses the train split.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import DataError
from sslkit.tabular.configs import TabularData
from sslkit.tabular.schema import MISSING_STRINGS, Schema, fit_schema

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


# ---------------------------------------------------------------------------------------------
# the in-memory data set


class _RowDataset:
    """Map-style dataset of preprocessed rows; ``__getitems__`` returns a whole batch at once."""

    def __init__(self, num: np.ndarray, cat: np.ndarray):
        import torch

        self.num = torch.from_numpy(np.ascontiguousarray(num))
        self.cat = torch.from_numpy(np.ascontiguousarray(cat))

    def __len__(self) -> int:
        return len(self.num)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return _inputs(self.num[i], self.cat[i])

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return _inputs(self.num[idx], self.cat[idx])


def _inputs(num: Any, cat: Any) -> dict[str, Any]:
    out = {}
    if num.shape[-1]:
        out["num"] = num
    if cat.shape[-1]:
        out["cat"] = cat
    return out


class TabularDomainData(DomainData):
    """A table held in memory, preprocessed by ``schema``."""

    def __init__(
        self,
        schema: Schema,
        splits: dict[str, dict[str, np.ndarray]],
        source: str,
    ):
        self.schema = schema
        self.splits = splits
        self.source = source
        self.info = schema.info()

    # pretraining
    def train_dataset(self) -> Any:
        s = self.splits["train"]
        return _RowDataset(s["num"], s["cat"])

    def collate(self, items: Any) -> Any:
        if isinstance(items, dict):  # already a batch (``__getitems__``)
            return items
        from torch.utils.data import default_collate

        return default_collate(items)

    # evaluation
    def split_names(self) -> list[str]:
        return [name for name in ("train", "test") if name in self.splits]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        import torch

        if split not in self.splits:
            raise DataError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        s = self.splits[split]
        n = len(s["num"])
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            y = s.get("y")
            yield EvalBatch(
                ids=s["ids"][sl],
                inputs=_inputs(torch.from_numpy(s["num"][sl]), torch.from_numpy(s["cat"][sl])),
                labels=None if y is None else y[sl],
            )

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """The preprocessed ``num``, ``cat``, ``ids`` and ``y`` of one split."""
        return self.splits[split]

    def has_labels(self) -> bool:
        return self.schema.target is not None and any("y" in s for s in self.splits.values())

    def task_kind(self) -> str:
        return self.schema.target["kind"] if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return self.schema.to_state()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {len(v['num'])} rows" for k, v in self.splits.items())
        return f"TabularDomainData({self.source}; {sizes}; {self.schema.describe()})"


def _split_arrays(
    schema: Schema, df: pd.DataFrame, source: str, ids: np.ndarray
) -> dict[str, np.ndarray]:
    num, cat = schema.transform(df, source)
    out = {"num": num, "cat": cat, "ids": ids}
    y = schema.transform_target(df, source)
    if y is not None:
        out["y"] = y
    return out


def _ids(df: pd.DataFrame, id_column: str, offset: int) -> np.ndarray:
    if id_column and id_column in df.columns:
        values = df[id_column]
        if pd.api.types.is_integer_dtype(values):
            return values.to_numpy(np.int64)
        return values.astype(str).to_numpy()
    return np.arange(offset, offset + len(df), dtype=np.int64)


def from_dataframes(
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    config: TabularData,
    state: dict[str, Any] | None = None,
    source: str = "DataFrame",
    test_source: str = "test DataFrame",
) -> TabularDomainData:
    """Preprocess ``train`` (and ``test``, or a seeded split of ``train``) per ``config``."""
    if len(train) == 0:
        raise DataError("the table has no rows", path=source)
    train = train.reset_index(drop=True)
    rows = np.arange(len(train))
    if test is None:
        held = split_mask(rows, config.split_seed, config.test_fraction)
        fit_rows = train[~held] if (~held).any() else train
    else:
        held = None
        fit_rows = train
    if state is None:
        schema = _fit(fit_rows, config, source)
    else:
        schema = Schema.from_state(state)
    splits: dict[str, dict[str, np.ndarray]] = {}
    all_ids = _ids(train, config.id_column, 0)
    if held is None:
        splits["train"] = _split_arrays(schema, train, source, all_ids)
        test = test.reset_index(drop=True)
        splits["test"] = _split_arrays(
            schema, test, test_source, _ids(test, config.id_column, len(train))
        )
    else:
        whole = _split_arrays(schema, train, source, all_ids)
        splits["train"] = {k: v[~held] for k, v in whole.items()}
        if held.any():
            splits["test"] = {k: v[held] for k, v in whole.items()}
    return TabularDomainData(schema, splits, source)


def from_memory(
    df: pd.DataFrame, config: TabularData, state: dict[str, Any] | None = None
) -> TabularDomainData:
    """The plugin's ``from_memory`` hook: ``api.pretrain("tabular", data=df)``,
    ``api.evaluate(run, data=df)`` and ``api.export(run, data=df)`` load a DataFrame here.

    ``config`` is the run's ``[data]`` section (``target``, ``id_column``, ``exclude``, ...;
    ``path`` describes ``df``); ``data.test_path``, when set, is read as the test split,
    otherwise a seeded ``data.test_fraction`` of rows is held out. ``state`` reuses a run's
    fitted preprocessing."""
    test = read_table(config.test_path, config.max_rows) if config.test_path else None
    return _from_memory(df, test, config, state)


def _from_memory(
    df: Any, test: pd.DataFrame | None, config: TabularData, state: dict[str, Any] | None
) -> TabularDomainData:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, got {type(df).__name__}",
            hint="tabular data in memory is a pandas DataFrame, one row a sample",
        )
    if config.max_rows:
        df = df.iloc[: config.max_rows]
        test = None if test is None else test.iloc[: config.max_rows]
    source = config.path or "DataFrame"
    return from_dataframes(
        df, test, config, state, source=source, test_source=config.test_path or "test DataFrame"
    )


def from_dataframe(
    df: pd.DataFrame,
    target: str = "",
    *,
    test: pd.DataFrame | None = None,
    state: dict[str, Any] | None = None,
    **options: Any,
) -> TabularDomainData:
    """A pandas DataFrame as sslkit data, without a run: a thin wrapper of :func:`from_memory`
    (to pretrain on a DataFrame, ``api.pretrain("tabular", data=df)`` is the entry point).

    ``options`` are fields of :class:`~sslkit.tabular.configs.TabularData` (``id_column``,
    ``exclude``, ``scaling``, ...). ``test`` is a separate test DataFrame. ``state`` reuses a
    run's fitted preprocessing.
    """
    config = replace(TabularData(), target=target, **options)
    return _from_memory(df, test, config, state)


# ---------------------------------------------------------------------------------------------
# streamed Parquet


def _should_stream(path: Path, config: TabularData) -> bool:
    if not _is_parquet(path) or config.stream == "memory":
        return False
    if config.stream == "stream":
        return True
    size = sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return size > config.stream_threshold_mb * 2**20


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


class StreamedTable(DomainData):
    """A Parquet file (or folder) read in record batches; never held in memory as a whole.

    The preprocessing is fitted on the train-split rows among the first ``fit_rows`` rows. Pretraining reads the train rows
    of every record batch, shuffled within the batch, and keeps row ``i`` on shard
    ``i % num_shards`` (:func:`sslkit.core.distributed.shard_info`), so ranks and DataLoader
    workers read disjoint rows. Streamed data has no length: set ``train.max_steps``.
    """

    def __init__(self, path: Path, config: TabularData, schema: Schema, read_batch: int = 65536):
        self.path = path
        self.config = config
        self.schema = schema
        self.read_batch = read_batch
        self.info = schema.info()

    def _frames(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(offset, frame)`` of consecutive rows (:func:`parquet_frames`)."""
        files = parquet_files(self.path)
        yield from parquet_frames(files, self.read_batch, self.config.max_rows)

    def _held(self, offset: int, n: int) -> np.ndarray:
        rows = np.arange(offset, offset + n)
        return split_mask(rows, self.config.split_seed, self.config.test_fraction)

    def train_dataset(self) -> Any:
        return _StreamDataset(self)

    def collate(self, items: Any) -> Any:
        from torch.utils.data import default_collate

        return default_collate(items)

    def split_names(self) -> list[str]:
        return ["train", "test"]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        import torch

        if split not in ("train", "test"):
            raise DataError(f"unknown split {split!r}; splits: train, test")
        for offset, df in self._frames():
            keep = self._held(offset, len(df)) == (split == "test")
            if not keep.any():
                continue
            part = df[keep]
            num, cat = self.schema.transform(part, str(self.path))
            y = self.schema.transform_target(part, str(self.path))
            ids = _ids(part, self.config.id_column, 0)
            if not (self.config.id_column and self.config.id_column in part.columns):
                ids = np.arange(offset, offset + len(df))[keep]
            for start in range(0, len(part), batch_size):
                sl = slice(start, start + batch_size)
                yield EvalBatch(
                    ids=ids[sl],
                    inputs=_inputs(torch.from_numpy(num[sl]), torch.from_numpy(cat[sl])),
                    labels=None if y is None else y[sl],
                )

    def has_labels(self) -> bool:
        return self.schema.target is not None

    def task_kind(self) -> str:
        return self.schema.target["kind"] if self.schema.target else "none"

    def state(self) -> dict[str, Any]:
        return self.schema.to_state()


def _make_stream_dataset_class() -> type:
    from torch.utils.data import IterableDataset

    class StreamDataset(IterableDataset):
        """Rows of the train split of a :class:`StreamedTable`, sharded and shuffled in batches."""

        def __init__(self, table: StreamedTable):
            self.table = table
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            """The engine calls this before each epoch (``TrainData.epoch``): the shuffle of
            epoch ``e`` depends on ``e`` only, so a resumed run sees the same data order."""
            self.epoch = int(epoch)

        def __iter__(self) -> Iterator[dict[str, Any]]:
            import torch

            from sslkit.core.distributed import shard_info

            shard, n_shards = shard_info()
            rng = np.random.default_rng([self.table.config.split_seed, self.epoch])
            for offset, df in self.table._frames():
                rows = np.arange(offset, offset + len(df))
                keep = ~self.table._held(offset, len(df)) & (rows % n_shards == shard)
                if not keep.any():
                    continue
                num, cat = self.table.schema.transform(df[keep], str(self.table.path))
                order = rng.permutation(len(num))
                num_t, cat_t = torch.from_numpy(num[order]), torch.from_numpy(cat[order])
                for i in range(len(order)):
                    yield _inputs(num_t[i], cat_t[i])

    return StreamDataset


def _StreamDataset(table: StreamedTable) -> Any:
    global _STREAM_CLASS
    if _STREAM_CLASS is None:
        _STREAM_CLASS = _make_stream_dataset_class()
    return _STREAM_CLASS(table)


_STREAM_CLASS: type | None = None


# ---------------------------------------------------------------------------------------------
# the plugin's loader


def load_data(config: TabularData, state: dict[str, Any] | None = None) -> DomainData:
    """Load ``config.path`` ("" or ``adult``: the embedded Adult data; else CSV or Parquet)."""
    path = config.path.strip()
    if path in ("", ADULT):
        cfg = config if config.target else replace(config, target=ADULT_TARGET)
        train, test = read_adult(config.max_rows)
        return from_dataframes(
            train,
            test,
            cfg,
            state,
            source="adult.data (embedded)",
            test_source="adult.test (embedded)",
        )
    p = Path(os.path.expanduser(path))
    if not p.exists() and not p.suffix and path.lower() in REGISTERED:
        raise DataError(f"data set {path!r} is not available")
    if not p.exists():
        raise DataError(
            "no such file",
            path=p,
            hint=f"give a CSV or Parquet file, or one of the data sets: {', '.join(REGISTERED)}",
        )
    if _should_stream(p, config):
        if config.test_path:
            raise DataError(
                "data.test_path is not supported with streamed Parquet",
                path=p,
                hint="streamed data holds out a seeded data.test_fraction of rows",
            )
        schema = Schema.from_state(state) if state is not None else None
        if schema is None:
            head = read_table(p, config.fit_rows)
            held = split_mask(np.arange(len(head)), config.split_seed, config.test_fraction)
            head = head[~held] if (~held).any() else head
            schema = _fit(head, config, str(p))
        return StreamedTable(p, config, schema)
    train = read_table(p, config.max_rows)
    test = read_table(config.test_path, config.max_rows) if config.test_path else None
    return from_dataframes(train, test, config, state, source=str(p), test_source=config.test_path)


def _fit(rows: Any, config: Any, source: str) -> Schema:
    """Fit the schema and preprocessing on ``rows`` with the options of a ``TabularData``."""
    return fit_schema(
        rows,
        target=config.target,
        id_column=config.id_column,
        exclude=config.exclude,
        categorical=config.categorical,
        scaling=config.scaling,
        max_categories=config.max_categories,
        min_category_count=config.min_category_count,
        task=config.task,
        source=source,
    )
