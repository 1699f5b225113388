"""Event logs -> per-entity sequences: reading, column detection, preprocessing, batching.

A log has one row per event: an entity id (client, customer, user), a time, categorical and
numeric fields. Preprocessing (fitted once, saved as JSON with the run, reused by evaluate and
export):

- rows without an entity id are dropped (counted in ``info``); events are sorted by time per
  entity; events at or after ``cutoff`` leave the sequences (they can only build a label);
- categorical fields: values seen at least ``min_freq`` times (at most ``max_vocab``) get
  codes ``2..``; 0 is padding, 1 the unknown bucket (rare, unseen or missing values), and the
  last code of each field is a [MASK] value for masked event modeling;
- numeric fields: signed log ``sign(x) * log1p(|x|)`` (or none), then standard scaling;
  missing values become 0 (the mean);
- time: ``time_delta`` (log of the gap to the entity's previous event) and ``time_age``
  (signed log of the time left to the reference time: the cutoff, else the last time of the
  fitted data) as numeric fields; weekday and hour as categorical fields for dates.

Batches are dicts of padded tensors: ``cats`` (B, T, C) long, ``nums`` (B, T, F) float and
``mask`` (B, T) bool (True on real events). With ``stream = true`` a Parquet file whose rows are
grouped by entity is read in batches and never held in memory.

Modules, lowest first (each imports only those above it):

- :mod:`~sslkit.events.data.embedded`: the shipped data sets and their config defaults;
- :mod:`~sslkit.events.data.reading`: CSV / Parquet files, Parquet in batches of whole entities;
- :mod:`~sslkit.events.data.schema`: column detection, :class:`Schema`;
- :mod:`~sslkit.events.data.times`: time formats and the cutoff;
- :mod:`~sslkit.events.data.chunks`: value transforms, :class:`Chunk` (sorted typed events);
- :mod:`~sslkit.events.data.preprocess`: the fitted :class:`Preprocessor` (vocabularies,
  scaling) and the state's version;
- :mod:`~sslkit.events.data.labels`: label files and targets;
- :mod:`~sslkit.events.data.batches`: training windows and padded batches;
- :mod:`~sslkit.events.data.memory`: :class:`EventsDomainData`, :func:`from_frame` and the
  plugin's ``from_memory`` hook (``api.pretrain("events", data=df)``);
- :mod:`~sslkit.events.data.stream`: :class:`StreamingEventsData` (Parquet, larger than memory);
- :mod:`~sslkit.events.data.load`: :func:`load_data`, the plugin's loader.
"""

from __future__ import annotations

from sslkit.events.data.batches import pad_batch, train_window
from sslkit.events.data.chunks import (
    Chunk,
    as_category_text,
    clean_ids,
    entity_deltas,
    entity_in_test,
    frame_to_chunk,
    length_quantiles,
    rows_of,
    select_entities,
    signed_log,
)
from sslkit.events.data.embedded import DEFAULT_DATASET, EMBEDDED, embedded_path, resolve_config
from sslkit.events.data.labels import encode_labels, label_spec, read_label_file
from sslkit.events.data.load import load_data
from sslkit.events.data.memory import EventsDomainData, from_frame, from_memory
from sslkit.events.data.preprocess import (
    PAD,
    STATE_VERSION,
    UNK,
    FitAccumulator,
    Preprocessor,
    check_state_version,
    schema_info,
)
from sslkit.events.data.reading import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    iter_frames,
    parquet_columns,
    parquet_head,
    read_table,
)
from sslkit.events.data.schema import (
    CODE_HINTS,
    ID_NAMES,
    TIME_NAMES,
    Schema,
    build_schema,
    detect_fields,
    detect_id,
    detect_time,
    is_integral,
    norm_name,
)
from sslkit.events.data.stream import SHUFFLE_BUFFER, StreamingEventsData, load_stream
from sslkit.events.data.times import (
    DATE_FORMATS,
    EXCEL_EPOCH_DAYS,
    guess_time_format,
    parse_cutoff,
    parse_times,
)

__all__ = [
    "CODE_HINTS",
    "CSV_SUFFIXES",
    "DATE_FORMATS",
    "DEFAULT_DATASET",
    "EMBEDDED",
    "EXCEL_EPOCH_DAYS",
    "ID_NAMES",
    "PAD",
    "PARQUET_SUFFIXES",
    "SHUFFLE_BUFFER",
    "STATE_VERSION",
    "TIME_NAMES",
    "UNK",
    "Chunk",
    "EventsDomainData",
    "FitAccumulator",
    "Preprocessor",
    "Schema",
    "StreamingEventsData",
    "as_category_text",
    "build_schema",
    "check_state_version",
    "clean_ids",
    "detect_fields",
    "detect_id",
    "detect_time",
    "embedded_path",
    "encode_labels",
    "entity_deltas",
    "entity_in_test",
    "frame_to_chunk",
    "from_frame",
    "from_memory",
    "guess_time_format",
    "is_integral",
    "iter_frames",
    "label_spec",
    "length_quantiles",
    "load_data",
    "load_stream",
    "norm_name",
    "pad_batch",
    "parquet_columns",
    "parquet_head",
    "parse_cutoff",
    "parse_times",
    "read_label_file",
    "read_table",
    "resolve_config",
    "rows_of",
    "schema_info",
    "select_entities",
    "signed_log",
    "train_window",
]
