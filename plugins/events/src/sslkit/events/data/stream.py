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

from sslkit.core.data import EvalBatch
from sslkit.core.errors import DataError
from sslkit.events.configs import EventsData
from sslkit.events.data.batches import pad_batch, train_window
from sslkit.events.data.chunks import (
    Chunk,
    entity_in_test,
    frame_to_chunk,
    length_quantiles,
    select_entities,
)
from sslkit.events.data.labels import encode_labels, label_spec, read_label_file
from sslkit.events.data.memory import EventsDataBase
from sslkit.events.data.preprocess import FitAccumulator, Preprocessor, schema_info
from sslkit.events.data.reading import iter_frames, parquet_columns, parquet_head
from sslkit.events.data.schema import Schema, build_schema
from sslkit.events.data.times import guess_time_format, parse_cutoff

SHUFFLE_BUFFER = 1024


class StreamingEventsData(EventsDataBase):
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
        head = parquet_head(self.path)
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
            fmt = guess_time_format(head[schema.time_col], schema.time_col)
            schema.time_format = fmt
        self.cutoff = parse_cutoff(config.cutoff, fmt)
        self.label_table = None
        if config.labels and config.labels != "after_cutoff" and not schema.label_col:
            self.label_table = read_label_file(Path(config.labels), schema.id_col, config.label_col)
        # one pass: fit (or only count) and collect lengths and label values
        fit = FitAccumulator(schema) if state is None else None
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
            "length_quantiles": length_quantiles(self._lengths),
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
                    a, b = train_window(len(cats), data.config.max_len)
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
                sub = select_entities(chunk, ents)
                cats, _ = self.pre.encode(sub)
                yield sub.ids, sub, cats

    def has_labels(self) -> bool:
        return self.label_info is not None


def load_stream(
    config: EventsData, state: dict[str, Any] | None, dataset: str | None
) -> StreamingEventsData:
    return StreamingEventsData(config, dataset, state)
