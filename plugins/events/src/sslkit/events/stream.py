"""Event logs larger than memory: Parquet read in batches, never held whole.

The file's rows must be grouped by entity (all events of an entity contiguous, in any time
order): sort it once by id, e.g. ``df.sort_values("client_id").to_parquet(...)`` or DuckDB
``COPY (SELECT * FROM t ORDER BY client_id) TO 'events.parquet'``. One pass fits the
preprocessing (exact category counts; numeric statistics on a uniform sample of 500,000
events) and counts sequence lengths; training and evaluation then stream the file again.
Training streams are sharded by :func:`sslkit.core.distributed.shard_info` (entity ``i`` of
the file goes to shard ``i % shards``) and shuffled within a buffer of entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import DataError
from sslkit.events.configs import EventsData
from sslkit.events.data import (
    Chunk,
    Preprocessor,
    Schema,
    _Fit,
    _guess_time_format,
    _quantiles,
    _read_label_file,
    _train_window,
    build_schema,
    encode_labels,
    entity_in_test,
    frame_to_chunk,
    label_spec,
    pad_batch,
    parquet_columns,
    parse_cutoff,
    schema_info,
)

SHUFFLE_BUFFER = 1024


def _head(path: Path, rows: int = 10_000) -> pd.DataFrame:
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


class StreamingEventsData(DomainData):
    """An event log streamed from Parquet; the same batches as the in-memory loader."""

    def __init__(self, config: EventsData, dataset: str | None, state: dict[str, Any] | None):
        self.config, self.dataset, self.path = config, dataset, Path(config.path)
        if not self.path.exists():
            raise DataError("file not found", path=self.path)
        if not (self.path.is_dir() or self.path.suffix.lower() in (".parquet", ".pq", ".parq")):
            raise DataError(
                "data.stream=true reads Parquet only",
                path=self.path,
                hint="convert the file to Parquet (pandas: df.to_parquet(...))",
            )
        columns = parquet_columns(self.path)
        head = _head(self.path)
        if state is None:
            schema = build_schema(config, head, self.path)
        else:
            schema = Schema.from_json(state["schema"])
            missing = [c for c in schema.columns() if c not in columns]
            if missing:
                raise DataError(
                    f"column {missing[0]!r}, used in training, is missing", path=self.path
                )
        self.schema = schema
        self.columns = schema.columns()
        fmt = schema.time_format
        if fmt == "auto":
            fmt = _guess_time_format(head[schema.time_col], schema.time_col)
            schema.time_format = fmt
        self.cutoff = parse_cutoff(config.cutoff, fmt)
        self.label_table = None
        if config.labels and config.labels != "after_cutoff" and not schema.label_col:
            self.label_table = _read_label_file(
                Path(config.labels), schema.id_col, config.label_col
            )
        # one pass: fit (or only count) and collect lengths and label values
        fit = _Fit(schema) if state is None else None
        lengths, label_values, dropped = [], [], 0
        for chunk, n_dropped in self._chunks(raw=True):
            dropped += n_dropped
            lengths.append(chunk.lengths())
            if fit is not None:
                fit.add(chunk)
            raw = self._raw_labels(chunk)
            if raw is not None:
                label_values.append(raw.dropna())
        self._lengths = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
        if not len(self._lengths):
            raise DataError("no entity has an event (before the cutoff)", path=self.path)
        if fit is not None:
            ref = self.cutoff if self.cutoff is not None else fit.t_max
            self.pre = Preprocessor.fit(schema, config, fit.counts, fit.sample, ref)
        else:
            self.pre = Preprocessor(state)
        self.label_info = None
        if state is not None and state.get("labels"):
            self.label_info = state["labels"]
        elif label_values:
            values = pd.concat(label_values, ignore_index=True)
            if len(values):
                self.label_info = label_spec(values, config.task_kind)
        self._train_lengths = self._lengths[self._lengths >= max(config.min_events, 1)]
        self.stats = {
            "dataset": dataset or "",
            "streamed": True,
            "entities": len(self._lengths),
            "events": int(self._lengths.sum()),
            "train_entities": len(self._train_lengths),
            "dropped_rows_missing_id": dropped,
            "length_quantiles": _quantiles(self._lengths),
            "length_max": int(self._lengths.max()),
            "task_kind": self.task_kind(),
            "label_classes": (self.label_info or {}).get("classes"),
        }
        self.info = schema_info(self.pre, config)

    # --- the stream
    def _chunks(self, raw: bool = False) -> Iterator[tuple[Chunk, int]]:
        for frame, rows in iter_frames(
            self.path, self.columns, self.schema.id_col, self.config.stream_batch_rows
        ):
            chunk, _, dropped = frame_to_chunk(frame, self.schema, self.cutoff, self.path, rows)
            yield chunk, dropped

    def _raw_labels(self, chunk: Chunk) -> pd.Series | None:
        if self.config.labels == "after_cutoff":
            return pd.Series(chunk.after.astype(np.int64))
        if chunk.label_raw is not None:
            return chunk.label_raw
        if self.label_table is not None:
            return pd.Series(self.label_table.reindex(pd.Index(chunk.ids)).to_numpy())
        return None

    def _entities(self) -> Iterator[tuple[Any, np.ndarray, np.ndarray, Any, bool]]:
        """(id, cats, nums, target or None, in test split) of every entity, in file order."""
        for chunk, _ in self._chunks():
            cats, nums = self.pre.encode(chunk)
            raw = self._raw_labels(chunk)
            y = encode_labels(raw, self.label_info) if raw is not None and self.label_info else None
            test = entity_in_test(chunk.ids, self.config.test_size)
            off = chunk.offsets
            for e in range(chunk.n_entities):
                s, t = int(off[e]), int(off[e + 1])
                yield (
                    chunk.ids[e],
                    cats[s:t],
                    nums[s:t],
                    (None if y is None else y[e]),
                    bool(test[e]),
                )

    # --- DomainData
    def lengths(self, which: str = "train") -> np.ndarray:
        return self._train_lengths if which == "train" else self._lengths

    def train_dataset(self) -> Any:
        import torch
        from torch.utils.data import IterableDataset

        from sslkit.core.distributed import shard_info

        data = self

        class _Stream(IterableDataset):
            def __iter__(self):
                shard, shards = shard_info()
                buffer: list[tuple[np.ndarray, np.ndarray]] = []
                for i, (_, cats, nums, _, _) in enumerate(data._entities()):
                    if i % shards != shard or len(cats) < max(data.config.min_events, 1):
                        continue
                    a, b = _train_window(len(cats), data.config.max_len)
                    buffer.append((cats[a:b], nums[a:b]))
                    if len(buffer) >= SHUFFLE_BUFFER:
                        j = int(torch.randint(len(buffer), (1,)).item())
                        buffer[j], buffer[-1] = buffer[-1], buffer[j]
                        yield buffer.pop()
                order = torch.randperm(len(buffer)).tolist()
                for j in order:
                    yield buffer[j]

        return _Stream()

    def collate(self, items: list[Any]) -> dict[str, Any]:
        return pad_batch(items)

    def split_names(self) -> list[str]:
        return ["train", "test"]

    def _in_split(self, split: str, y: Any, test: bool) -> bool:
        if self.label_info is not None and (
            y is None or (y < 0 if isinstance(y, int | np.integer) else not np.isfinite(y))
        ):
            return False
        return test == (split == "test")

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        ids, seqs, ys = [], [], []
        for key, cats, nums, y, test in self._entities():
            if not self._in_split(split, y, test):
                continue
            s = max(0, len(cats) - self.config.max_len)
            ids.append(key)
            seqs.append((cats[s:], nums[s:]))
            ys.append(y)
            if len(ids) == batch_size:
                yield self._batch(ids, seqs, ys)
                ids, seqs, ys = [], [], []
        if ids:
            yield self._batch(ids, seqs, ys)

    def _batch(self, ids: list, seqs: list, ys: list) -> EvalBatch:
        labels = np.asarray(ys) if self.label_info is not None else None
        return EvalBatch(ids=np.asarray(ids), inputs=pad_batch(seqs), labels=labels)

    def export_batches(self, batch_size: int) -> Iterator[EvalBatch]:
        ids, seqs = [], []
        for key, cats, nums, _, _ in self._entities():
            s = max(0, len(cats) - self.config.max_len)
            ids.append(key)
            seqs.append((cats[s:], nums[s:]))
            if len(ids) == batch_size:
                yield EvalBatch(ids=np.asarray(ids), inputs=pad_batch(seqs))
                ids, seqs = [], []
        if ids:
            yield EvalBatch(ids=np.asarray(ids), inputs=pad_batch(seqs))

    def frames(self, split: str) -> Iterator[tuple[np.ndarray, Chunk, np.ndarray]]:
        from sslkit.events.data import _select

        for chunk, _ in self._chunks():
            raw = self._raw_labels(chunk)
            y = encode_labels(raw, self.label_info) if raw is not None and self.label_info else None
            test = entity_in_test(chunk.ids, self.config.test_size)
            keep = np.array(
                [
                    self._in_split(split, None if y is None else y[e], bool(test[e]))
                    for e in range(chunk.n_entities)
                ],
                dtype=bool,
            )
            ents = np.flatnonzero(keep)
            if len(ents):
                sub = _select(chunk, ents)
                cats, _ = self.pre.encode(sub)
                yield sub.ids, sub, cats

    def has_labels(self) -> bool:
        return self.label_info is not None

    def task_kind(self) -> str:
        return self.label_info["kind"] if self.label_info else "none"

    def state(self) -> dict[str, Any]:
        state = dict(self.pre.state)
        state["labels"] = self.label_info
        return state


def load_stream(
    config: EventsData, state: dict[str, Any] | None, dataset: str | None
) -> StreamingEventsData:
    return StreamingEventsData(config, dataset, state)
