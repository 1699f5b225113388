"""Config dataclasses of the events plugin (no torch here: the CLI reads them before import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sslkit.core.method_config import MethodOptions


@dataclass
class EventsData:
    """Where the events are and how to read them (``[data]``)."""

    path: str = ""
    """A CSV (.csv, .csv.gz) or Parquet file (or a folder of Parquet files) with one row per
    event; a data set name (online-retail, age-group); "" = the embedded Online Retail sample."""
    id_col: str = ""
    """Entity id column (client, customer, user); "" = detect (client_id, customer_id, user_id, ...)."""
    time_col: str = ""
    """Event time column; "" = detect (event_time, timestamp, date, ...)."""
    time_format: Literal["auto", "datetime", "excel", "number", "unix"] = "auto"
    """How to read times: datetime (strings or datetimes), excel (serial days), number (any
    ordered number: days, steps), unix (seconds since 1970); auto guesses from the values."""
    cat_cols: tuple[str, ...] = ()
    """Categorical fields; () = detect (text columns and integer code columns)."""
    num_cols: tuple[str, ...] = ()
    """Numeric fields; () = detect (the remaining numeric columns)."""
    drop_cols: tuple[str, ...] = ()
    """Columns never used as fields (free text, invoice numbers)."""
    labels: str = ""
    """Entity labels: a CSV/Parquet file (entity id + label), a column of the events table
    (constant per entity), "after_cutoff" (1 if the entity has an event at or after
    ``cutoff``), or "" for none."""
    label_col: str = ""
    """Label column in the labels file; "" = its only column besides the id."""
    task_kind: Literal["auto", "classification", "regression"] = "auto"
    cutoff: str = ""
    """Only events before this time enter sequences (a date for datetime/excel/unix times, a
    number otherwise); later events only build the "after_cutoff" label. "" = keep all."""
    min_freq: int = 5
    """Category values seen fewer times than this go to the unknown bucket."""
    max_vocab: int = 2000
    """Most frequent values kept per categorical field."""
    num_transform: Literal["signed_log", "none"] = "signed_log"
    """Numeric transform before standard scaling: sign(x) * log(1 + |x|), or none."""
    calendar: bool = True
    """Add weekday and hour-of-day fields when times are dates."""
    max_len: int = 1000
    """Longest history used: training takes a random window of this many events, evaluation
    the last ones."""
    min_events: int = 1
    """Entities with fewer events are left out of pretraining (they are still embedded)."""
    test_size: float = 0.3
    """Fraction of entities in the "test" split (by a stable hash of the id)."""
    stream: bool = False
    """Stream a Parquet file larger than memory (rows grouped by entity) instead of loading it."""
    stream_batch_rows: int = 65536
    """Rows read per Parquet batch when streaming."""


@dataclass
class EncoderOptions(MethodOptions):
    """Encoder options shared by the methods (event embedding + sequence encoder)."""

    encoder: Literal["gru", "transformer"] = "gru"
    """Sequence encoder over the event embeddings."""
    hidden: int = 256
    """GRU hidden size, or Transformer width; the embedding size."""
    layers: int = 1
    heads: int = 4
    """Attention heads (Transformer)."""
    dropout: float = 0.0
    cat_dim: int = 16
    """Embedding size per categorical field."""
    num_dim: int = 16
    """Output size of the projection of the numeric (and time) fields."""
    pool: Literal["auto", "last", "mean", "max"] = "auto"
    """Pooling to one vector per entity; auto = last state for a GRU, mean for a Transformer."""
    pack: bool = True
    """Run the GRU on packed sequences (no compute spent on padding)."""


@dataclass
class CoLESConfig(EncoderOptions):
    """CoLES: random slices of one entity's history are positives, other entities negatives."""

    hidden: int = 128
    """GRU hidden size, or Transformer width; the embedding size."""

    split_count: int = 5
    """Slices sampled per entity and step."""
    slice_min: int = 2
    """Shortest slice; entities with fewer events use their whole history, and at least one
    entity must have this many events."""
    slice_max: int = 40
    """Longest slice."""
    loss: Literal["margin", "infonce"] = "margin"
    """margin: contrastive loss with a margin and hard negatives (pytorch-metric-learning);
    infonce: the core's InfoNCE over the slices of each entity."""
    margin: float = 0.5
    """Negative margin of the contrastive loss (on L2-normalised embeddings)."""
    miner: Literal["hard", "pair_margin", "batch_hard"] = "hard"
    """hard: every positive pair and the ``neg_count`` closest negatives of each slice (as the
    CoLES paper); pair_margin / batch_hard: pytorch-metric-learning's miners."""
    neg_count: int = 5
    temperature: float = 0.1
    """InfoNCE temperature."""


@dataclass
class MEMConfig(EncoderOptions):
    """Masked event modeling: hide events (or fields) and predict them from the context."""

    encoder: Literal["gru", "transformer"] = "transformer"
    """Sequence encoder (a Transformer sees both sides of a hidden event)."""
    hidden: int = 64
    """Transformer width (or GRU hidden size); the embedding size."""
    layers: int = 2
    mask_mode: Literal["event", "field"] = "event"
    """event: hide whole events; field: hide single fields of events."""
    mask_prob: float = 0.15
    num_weight: float = 1.0
    """Weight of the numeric (MSE) part of the loss against the categorical (cross-entropy) part."""
    crop_len: int = 128
    """Random window of each history used per step."""


@dataclass
class CPCConfig(EncoderOptions):
    """Contrastive predictive coding over the event sequence."""

    hidden: int = 128
    """GRU hidden size (or causal Transformer width); the embedding size."""

    steps: int = 3
    """Future events predicted from each position (k = 1..steps)."""
    negatives: int = 128
    """Negative events sampled from the batch per prediction."""
    temperature: float = 1.0
    crop_len: int = 128
    """Random window of each history used per step."""
