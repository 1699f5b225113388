"""An event log held in memory: loaded from a file or a DataFrame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import ConfigError, DataError
from sslkit.events.configs import EventsData
from sslkit.events.data.batches import pad_batch, train_window
from sslkit.events.data.chunks import (
    Chunk,
    entity_in_test,
    frame_to_chunk,
    length_quantiles,
    rows_of,
    select_entities,
)
from sslkit.events.data.labels import encode_labels, label_spec, read_label_file
from sslkit.events.data.preprocess import (
    FitAccumulator,
    Preprocessor,
    check_state_version,
    schema_info,
)
from sslkit.events.data.schema import Schema, build_schema
from sslkit.events.data.times import guess_time_format, parse_cutoff


class EventsDataBase(DomainData):
    """What the in-memory and streamed event logs share: the task kind and the fitted ``state``
    (the preprocessing's, with the label spec under ``labels``)."""

    pre: Preprocessor
    label_info: dict[str, Any] | None

    def task_kind(self) -> str:
        return self.label_info["kind"] if self.label_info else "none"

    def state(self) -> dict[str, Any]:
        state = dict(self.pre.state)
        state["labels"] = self.label_info
        return state


class EventsDomainData(EventsDataBase):
    """An event log held in memory as flat arrays, with its preprocessing fitted or reused."""

    def __init__(
        self,
        config: EventsData,
        dataset: str | None,
        chunk: Chunk,
        pre: Preprocessor,
        labels: np.ndarray | None,
        label_info: dict[str, Any] | None,
        dropped_rows: int,
        path: Any,
    ):
        self.config, self.dataset, self.pre = config, dataset, pre
        self.chunk = chunk
        self.cats, self.nums = pre.encode(chunk)
        self.labels, self.label_info = labels, label_info
        self.path = path
        lengths = chunk.lengths()
        in_test = entity_in_test(chunk.ids, config.test_size)
        labeled = np.ones(len(lengths), bool)
        if labels is not None:
            labeled = labels >= 0 if labels.dtype.kind == "i" else np.isfinite(labels)
        self._splits = {
            "train": np.flatnonzero(~in_test & labeled),
            "test": np.flatnonzero(in_test & labeled),
        }
        if labels is not None and (~labeled).any():
            self._splits["unlabeled"] = np.flatnonzero(~labeled)
        self._train = np.flatnonzero(lengths >= max(config.min_events, 1))
        if len(self._train) == 0:
            raise DataError(
                f"no entity has at least data.min_events={config.min_events} events",
                path=path,
                hint="lower data.min_events",
            )
        self.info = self._info(dropped_rows)

    # --- description
    def _info(self, dropped_rows: int) -> dict[str, Any]:
        """``info``: what the encoder is built from (it must match when a run is reused on
        other data); ``stats``: facts about this data only."""
        lengths = self.chunk.lengths()
        self.stats = {
            "dataset": self.dataset or "",
            "entities": len(self.chunk.ids),
            "events": len(self.chunk.t),
            "train_entities": len(self._train),
            "split_sizes": {k: len(v) for k, v in self._splits.items()},
            "dropped_rows_missing_id": dropped_rows,
            "dropped_columns": list(self.pre.schema.dropped),
            "length_quantiles": length_quantiles(lengths),
            "length_max": int(lengths.max()) if len(lengths) else 0,
            "task_kind": self.task_kind(),
            "label_classes": (self.label_info or {}).get("classes"),
        }
        return schema_info(self.pre, self.config)

    def lengths(self, which: str = "train") -> np.ndarray:
        """Sequence lengths of the pretraining entities (``train``) or of every entity."""
        lengths = self.chunk.lengths()
        return lengths[self._train] if which == "train" else lengths

    # --- training
    def train_dataset(self) -> Any:
        from torch.utils.data import Dataset

        data = self

        class _Sequences(Dataset):
            def __len__(self) -> int:
                return len(data._train)

            def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
                e = int(data._train[i])
                s, t = int(data.chunk.offsets[e]), int(data.chunk.offsets[e + 1])
                a, b = train_window(t - s, data.config.max_len)
                return data.cats[s + a : s + b], data.nums[s + a : s + b]

        return _Sequences()

    def collate(self, items: list[Any]) -> dict[str, Any]:
        return pad_batch(items)

    # --- evaluation
    def split_names(self) -> list[str]:
        return list(self._splits)

    def split_entities(self, split: str) -> np.ndarray:
        if split not in self._splits:
            raise ConfigError(f"unknown split {split!r}; splits are: {', '.join(self._splits)}")
        return self._splits[split]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        ents = self.split_entities(split)
        off, max_len = self.chunk.offsets, self.config.max_len
        for start in range(0, len(ents), batch_size):
            sel = ents[start : start + batch_size]
            seqs = []
            for e in sel:
                s, t = int(off[e]), int(off[e + 1])
                s = max(s, t - max_len)
                seqs.append((self.cats[s:t], self.nums[s:t]))
            labels = self.labels[sel] if self.labels is not None else None
            yield EvalBatch(ids=self.chunk.ids[sel], inputs=pad_batch(seqs), labels=labels)

    def frames(self, split: str) -> Iterator[tuple[np.ndarray, Chunk, np.ndarray]]:
        """(entity ids, raw events of the split's entities, category codes) for aggregates."""
        ents = self.split_entities(split)
        yield self.chunk.ids[ents], select_entities(self.chunk, ents), self._codes_of(ents)

    def _codes_of(self, ents: np.ndarray) -> np.ndarray:
        rows = rows_of(self.chunk.offsets, ents)
        return self.cats[rows]

    def has_labels(self) -> bool:
        return self.labels is not None


def from_memory(
    frame: pd.DataFrame, config: EventsData, state: dict[str, Any] | None = None
) -> EventsDomainData:
    """The plugin's ``from_memory`` hook: ``api.pretrain("events", data=events_df)``,
    ``api.evaluate(run, data=events_df)`` and ``api.export(run, data=events_df)`` load a
    long-format events DataFrame (one row per event) here, with the run's ``[data]`` options
    (``config.path`` describes the frame). ``state`` reuses a run's fitted preprocessing."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, got {type(frame).__name__}",
            hint="events in memory are a DataFrame with one row per event (id, time, fields)",
        )
    if config.stream:
        raise ConfigError(
            "data.stream=true reads a Parquet file in batches; data given in memory is not "
            "streamed: drop data.stream"
        )
    return from_frame(frame, config, state=state, path=config.path or "<DataFrame>")


def from_frame(
    frame: pd.DataFrame,
    config: EventsData | None = None,
    *,
    state: dict[str, Any] | None = None,
    labels: pd.Series | None = None,
    dataset: str | None = None,
    path: Any = "<DataFrame>",
) -> EventsDomainData:
    """Load events from a DataFrame (one row per event), without a run (to pretrain on a
    DataFrame, ``api.pretrain("events", data=df)`` is the entry point; it comes here through
    :func:`from_memory`). ``labels``: optional Series of entity labels indexed by entity id
    (overrides ``config.labels``)."""
    config = config or EventsData()
    check_state_version(config, state)
    if len(frame) == 0:
        raise DataError("the table has no rows", path=path)
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    rows = np.arange(len(frame))
    if state is None:
        schema = build_schema(config, frame, path)
    else:
        schema = Schema.from_json(state["schema"])
        missing = [c for c in schema.columns() if c not in frame.columns]
        if missing:
            raise DataError(
                f"column {missing[0]!r}, used in training, is not in this table",
                path=path,
                hint="pass data with the same columns as the training data",
            )
    cutoff = parse_cutoff(config.cutoff, _cutoff_format(schema, frame))
    chunk, fmt, dropped = frame_to_chunk(frame, schema, cutoff, path, rows)
    if chunk.n_entities == 0:
        why = f" before the cutoff {config.cutoff}" if cutoff is not None else ""
        raise DataError(f"no entity has an event{why}", path=path, column=schema.id_col)
    schema.time_format = fmt
    if state is None:
        fit = FitAccumulator(schema)
        fit.add(chunk)
        ref = cutoff if cutoff is not None else fit.t_max
        pre = Preprocessor.fit(schema, config, fit.counts, fit.sample, ref)
    else:
        pre = Preprocessor(state)
    y, label_info = _labels(config, chunk, state, labels, cutoff, path)
    return EventsDomainData(config, dataset, chunk, pre, y, label_info, dropped, path)


def _cutoff_format(schema: Schema, frame: pd.DataFrame) -> str:
    if schema.time_format != "auto":
        return schema.time_format
    return guess_time_format(frame[schema.time_col], schema.time_col)


def _labels(
    config: EventsData,
    chunk: Chunk,
    state: dict[str, Any] | None,
    given: pd.Series | None,
    cutoff: float | None,
    path: Any,
) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    if given is not None:
        raw = given.reindex(pd.Index(chunk.ids))
    elif config.labels == "after_cutoff":
        if cutoff is None:
            raise ConfigError('data.labels = "after_cutoff" needs data.cutoff (a date or a number)')
        raw = pd.Series(chunk.after.astype(np.int64))
    elif chunk.label_raw is not None:
        raw = chunk.label_raw
    elif config.labels:
        p = Path(config.labels)
        if not p.exists():
            raise DataError(
                "data.labels is neither a column of the events table, a file, nor after_cutoff",
                path=p,
            )
        table = read_label_file(p, config.id_col, config.label_col)
        raw = table.reindex(pd.Index(chunk.ids))
    else:
        return None, None
    raw = pd.Series(raw.to_numpy(), name="label")
    spec = state.get("labels") if state and state.get("labels") else None
    if spec is None:
        if raw.notna().sum() == 0:
            raise DataError("no entity of the events table has a label", path=path)
        spec = label_spec(raw, config.task_kind)
    return encode_labels(raw, spec), spec
