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
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import ConfigError, DataError
from sslkit.events.configs import EventsData

STATE_VERSION = 1
PAD, UNK = 0, 1
EXCEL_EPOCH_DAYS = 25569.0  # Excel serial day of 1970-01-01 (1900 date system)
DATE_FORMATS = ("datetime", "excel", "unix")

# ---------------------------------------------------------------------------------------------
# embedded data sets

EMBEDDED: dict[str, dict[str, Any]] = {
    "online-retail": {
        "file": "online_retail_40k.csv.gz",
        "id_col": "CustomerID",
        "time_col": "InvoiceDate",
        "time_format": "excel",
        "cat_cols": ("StockCode", "Country"),
        "num_cols": ("Quantity", "UnitPrice"),
        "drop_cols": ("InvoiceNo", "Description"),
        "cutoff": "2011-09-01",
        "labels": "after_cutoff",
    },
    "age-group": {
        "file": "age_group_transactions.csv.gz",
        "id_col": "client_id",
        "time_col": "trans_date",
        "time_format": "number",
        "cat_cols": ("small_group",),
        "num_cols": ("amount_rur",),
        "labels": "@age_group_bins.csv.gz",
        "label_col": "bins",
    },
}
DEFAULT_DATASET = "online-retail"


def embedded_path(name: str) -> Path:
    return Path(str(resources.files("sslkit.events.datasets").joinpath(name)))


def resolve_config(config: EventsData) -> tuple[EventsData, str | None]:
    """Fill a data config from an embedded data set's defaults (fields the user left at their
    default); returns the config and the data set name (None for a user's file)."""
    name = config.path or DEFAULT_DATASET
    if name not in EMBEDDED:
        return config, None
    spec = EMBEDDED[name]
    defaults = EventsData()
    values: dict[str, Any] = {}
    for f in fields(EventsData):
        if f.name in spec and getattr(config, f.name) == getattr(defaults, f.name):
            values[f.name] = spec[f.name]
    values["path"] = str(embedded_path(spec["file"]))
    labels = values.get("labels", config.labels)
    if isinstance(labels, str) and labels.startswith("@"):
        values["labels"] = str(embedded_path(labels[1:]))
    return replace(config, **values), name


# ---------------------------------------------------------------------------------------------
# reading tables

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


# ---------------------------------------------------------------------------------------------
# column detection


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


ID_NAMES = [
    "clientid", "customerid", "userid", "entityid", "accountid", "cardid", "memberid",
    "deviceid", "sessionid", "client", "customer", "user", "entity", "account", "id",
]  # fmt: skip
TIME_NAMES = [
    "eventtime", "timestamp", "eventtimestamp", "datetime", "time", "date", "eventdate",
    "transdate", "transactiondate", "transactiontime", "invoicedate", "ts", "dt",
]  # fmt: skip
CODE_HINTS = ("group", "code", "type", "mcc", "category", "cat", "class", "kind", "channel")


def _pick(columns: list[str], names: list[str]) -> str | None:
    by_norm = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    for n in names:
        if n in by_norm:
            return by_norm[n]
    return None


def detect_id(columns: list[str], path: Any) -> str:
    found = _pick(columns, ID_NAMES)
    if found is None:
        found = next((c for c in columns if _norm(c).endswith("id") and len(_norm(c)) > 2), None)
    if found is None:
        raise DataError(
            f"no entity id column found among: {', '.join(map(str, columns))}",
            path=path,
            hint="name it with --set data.id_col=COLUMN",
        )
    return found


def detect_time(columns: list[str], frame: pd.DataFrame | None, path: Any, skip: set[str]) -> str:
    cols = [c for c in columns if c not in skip]
    found = _pick(cols, TIME_NAMES)
    if found is None:
        found = next((c for c in cols if "date" in _norm(c) or "time" in _norm(c)), None)
    if found is None and frame is not None:
        found = next((c for c in cols if pd.api.types.is_datetime64_any_dtype(frame[c])), None)
    if found is None:
        raise DataError(
            f"no event time column found among: {', '.join(map(str, columns))}",
            path=path,
            hint="name it with --set data.time_col=COLUMN",
        )
    return found


def detect_fields(
    frame: pd.DataFrame, skip: set[str], cat_cols: tuple[str, ...], num_cols: tuple[str, ...]
) -> tuple[list[str], list[str], list[str]]:
    """Categorical and numeric fields (given ones are kept); also the columns left out."""
    cats, nums, dropped = list(cat_cols), list(num_cols), []
    if cat_cols or num_cols:
        return cats, nums, dropped
    n = max(len(frame), 1)
    for c in frame.columns:
        if c in skip:
            continue
        s = frame[c]
        if pd.api.types.is_bool_dtype(s):
            cats.append(c)
        elif pd.api.types.is_numeric_dtype(s):
            integral = pd.api.types.is_integer_dtype(s) or _integral(s)
            if integral and any(h in _norm(c) for h in CODE_HINTS):
                cats.append(c)
            else:
                nums.append(c)
        elif pd.api.types.is_datetime64_any_dtype(s):
            dropped.append(c)
        else:
            # text: a field when values repeat, an identifier or free text when nearly unique
            if s.nunique(dropna=True) <= max(50, 0.2 * n):
                cats.append(c)
            else:
                dropped.append(c)
    return cats, nums, dropped


def _integral(s: pd.Series) -> bool:
    v = s.dropna().to_numpy()
    return v.size > 0 and np.issubdtype(v.dtype, np.number) and bool(np.all(np.mod(v, 1) == 0))


# ---------------------------------------------------------------------------------------------
# times


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
        fmt = _guess_time_format(s, column)
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


def _guess_time_format(s: pd.Series, column: str) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        v = s.dropna().to_numpy(dtype=np.float64)
        named_date = "date" in _norm(column)
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


# ---------------------------------------------------------------------------------------------
# value transforms


def signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def as_category_text(s: pd.Series) -> pd.Series:
    """Category values as text, with integral floats written as integers (12.0 -> "12")."""
    if pd.api.types.is_float_dtype(s) and _integral(s):
        s = s.astype("Int64")
    return s.astype("string")


def clean_ids(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s) and _integral(s):
        return s.astype(np.int64)
    if pd.api.types.is_numeric_dtype(s):
        return s
    return s.astype(str)


def entity_in_test(ids: np.ndarray, test_size: float) -> np.ndarray:
    """Stable split by a CRC32 of the id text: the same entity lands in the same split always."""
    cut = round(test_size * 10_000)
    return np.fromiter(
        (zlib.crc32(str(i).encode()) % 10_000 < cut for i in ids), dtype=bool, count=len(ids)
    )


# ---------------------------------------------------------------------------------------------
# schema: which column is what (detected once, saved in the state)


@dataclass
class Schema:
    id_col: str
    time_col: str
    time_format: str
    cat_cols: list[str]
    num_cols: list[str]
    label_col: str | None  # a column of the events table holding the label
    dropped: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Schema:
        return cls(**d)

    def columns(self) -> list[str]:
        cols = [self.id_col, self.time_col, *self.cat_cols, *self.num_cols]
        if self.label_col:
            cols.append(self.label_col)
        return list(dict.fromkeys(cols))


def build_schema(config: EventsData, frame: pd.DataFrame, path: Any) -> Schema:
    columns = [str(c) for c in frame.columns]
    for opt in ("id_col", "time_col"):
        name = getattr(config, opt)
        if name and name not in columns:
            raise DataError(
                f"{opt.replace('_col', '')} column {name!r} not found; columns are: "
                f"{', '.join(columns)}",
                path=path,
                hint=f"fix --set data.{opt}=COLUMN",
            )
    id_col = config.id_col or detect_id(columns, path)
    time_col = config.time_col or detect_time(columns, frame, path, {id_col})
    if time_col == id_col:
        raise DataError(f"the id and time columns are both {id_col!r}", path=path)
    for opt in ("cat_cols", "num_cols", "drop_cols"):
        missing = [c for c in getattr(config, opt) if c not in columns]
        if missing:
            raise DataError(
                f"data.{opt} names column {missing[0]!r}, which is not in the table; columns are: "
                f"{', '.join(columns)}",
                path=path,
            )
    label_col = config.labels if config.labels in columns else None
    skip = {id_col, time_col, *config.drop_cols} | ({label_col} if label_col else set())
    cats, nums, dropped = detect_fields(frame, skip, config.cat_cols, config.num_cols)
    both = set(cats) & set(nums)
    if both:
        raise DataError(f"column {sorted(both)[0]!r} is in both data.cat_cols and data.num_cols")
    return Schema(id_col, time_col, config.time_format, cats, nums, label_col, dropped)


# ---------------------------------------------------------------------------------------------
# chunks: a DataFrame of complete entities -> sorted, typed arrays


@dataclass
class Chunk:
    """Events of complete entities, sorted by (entity, time); entity ``e`` owns rows
    ``offsets[e]:offsets[e + 1]``. Only events before the cutoff are kept."""

    ids: np.ndarray  # (E,)
    offsets: np.ndarray  # (E + 1,) int64
    t: np.ndarray  # (N,) float64
    cat_raw: list[pd.Series]  # text values per categorical field, (N,) each
    num_raw: np.ndarray  # (N, F) float64, untransformed
    after: np.ndarray  # (E,) bool: has an event at or after the cutoff
    label_raw: pd.Series | None = None  # (E,) from a column of the events table

    @property
    def n_entities(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def frame_to_chunk(
    frame: pd.DataFrame, schema: Schema, cutoff: float | None, path: Any, rows: np.ndarray
) -> tuple[Chunk, str, int]:
    """Sort and type one DataFrame (of complete entities). Returns the chunk, the resolved time
    format and the number of rows dropped for a missing id."""
    ids_all = frame[schema.id_col]
    keep = ids_all.notna().to_numpy()
    dropped = int((~keep).sum())
    if dropped:
        frame, rows = frame.loc[keep], rows[keep]
    t, fmt = parse_times(frame[schema.time_col], schema.time_format, schema.time_col, path, rows)
    ids = clean_ids(frame[schema.id_col])
    try:
        codes, uniques = pd.factorize(ids, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(ids.astype(str), sort=True)
    order = np.lexsort((t, codes))  # stable: ties keep file order
    codes, t = codes[order], t[order]
    before = np.ones(len(t), bool) if cutoff is None else t < cutoff
    after = np.zeros(len(uniques), bool)
    if cutoff is not None:
        after[np.unique(codes[~before])] = True
    present = np.zeros(len(uniques), bool)
    present[codes[before]] = True
    # entities with no event before the cutoff have no history: they are not entities here
    remap = np.cumsum(present) - 1
    sel = order[before]
    ent = remap[codes[before]]
    counts = np.bincount(ent, minlength=int(present.sum()))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sub = frame.iloc[sel]
    num_raw = np.zeros((len(sel), len(schema.num_cols)), np.float64)
    for j, c in enumerate(schema.num_cols):
        col = sub[c]
        vals = pd.to_numeric(col, errors="coerce")
        bad = vals.isna().to_numpy() & col.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"value {col.iloc[i]!r} of numeric field is not a number",
                path=path,
                row=int(rows[sel[i]]) + 1,
                column=c,
                hint="fix the value or list the column in data.cat_cols",
            )
        num_raw[:, j] = vals.to_numpy(dtype=np.float64, na_value=np.nan)
    cat_raw = [as_category_text(sub[c]).reset_index(drop=True) for c in schema.cat_cols]
    label_raw = None
    if schema.label_col:
        first = sub[schema.label_col].groupby(ent).first()
        label_raw = first.reindex(range(len(counts))).reset_index(drop=True)
    chunk = Chunk(
        ids=np.asarray(uniques)[present],
        offsets=offsets,
        t=t[before],
        cat_raw=cat_raw,
        num_raw=num_raw,
        after=after[present],
        label_raw=label_raw,
    )
    return chunk, fmt, dropped


def entity_deltas(chunk: Chunk) -> np.ndarray:
    """Time since the entity's previous event (0 for its first event)."""
    d = np.diff(chunk.t, prepend=chunk.t[:1])
    if len(d):
        d[chunk.offsets[:-1][chunk.lengths() > 0]] = 0.0
    return np.maximum(d, 0.0)


# ---------------------------------------------------------------------------------------------
# fitted preprocessing


class Preprocessor:
    """Fitted state: vocabularies, scaling statistics, reference time. JSON round-trips."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.schema = Schema.from_json(state["schema"])
        self.vocab: dict[str, list[str]] = state["vocab"]
        self.index = {c: pd.Index(v) for c, v in self.vocab.items()}
        self.scale: dict[str, list[float]] = state["scale"]
        self.ref: float = state["ref_time"]
        self.calendar: bool = state["calendar"]
        self.transform: str = state["num_transform"]

    # --- names and sizes
    def cat_names(self) -> list[str]:
        names = list(self.schema.cat_cols)
        if self.calendar:
            names += ["time_weekday", "time_hour"]
        return names

    def num_names(self) -> list[str]:
        return [*self.schema.num_cols, "time_delta", "time_age"]

    def cat_sizes(self) -> list[int]:
        """Embedding table sizes: padding, unknown, the values, and one [MASK] code."""
        sizes = [len(self.vocab[c]) + 3 for c in self.schema.cat_cols]
        if self.calendar:
            sizes += [7 + 3, 24 + 3]
        return sizes

    # --- fitting
    @staticmethod
    def fit(
        schema: Schema,
        config: EventsData,
        counts: dict[str, Counter],
        sample: dict[str, np.ndarray],
        ref_time: float,
    ) -> Preprocessor:
        vocab = {}
        for c in schema.cat_cols:
            kept = [(v, n) for v, n in counts[c].items() if n >= config.min_freq]
            kept.sort(key=lambda vn: (-vn[1], vn[0]))
            vocab[c] = [v for v, _ in kept[: config.max_vocab]]
        transform = config.num_transform
        scale = {}
        for name, values in sample.items():
            x = values.astype(np.float64)
            if name == "time_delta":
                x = np.log1p(np.maximum(x, 0))
            elif name == "time_age":
                x = signed_log(ref_time - x)
            elif transform == "signed_log":
                x = signed_log(x)
            x = x[np.isfinite(x)]
            mean = float(x.mean()) if x.size else 0.0
            std = float(x.std()) if x.size else 1.0
            scale[name] = [mean, std if std > 1e-8 else 1.0]
        state = {
            "version": STATE_VERSION,
            "schema": schema.to_json(),
            "vocab": vocab,
            "scale": scale,
            "ref_time": float(ref_time),
            "calendar": bool(config.calendar and schema.time_format in DATE_FORMATS),
            "num_transform": transform,
        }
        return Preprocessor(state)

    # --- applying
    def encode(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
        """(N, C) int16/int32 category codes and (N, F) float32 scaled numeric fields."""
        n = len(chunk.t)
        cats = np.zeros((n, len(self.cat_names())), np.int32)
        for j, c in enumerate(self.schema.cat_cols):
            codes = self.index[c].get_indexer(
                chunk.cat_raw[j].to_numpy(dtype=object, na_value=None)
            )
            cats[:, j] = np.where(codes < 0, UNK, codes + 2)
        if self.calendar:
            k = len(self.schema.cat_cols)
            day = np.floor(chunk.t)
            cats[:, k] = 2 + ((day.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
            cats[:, k + 1] = 2 + np.clip(np.floor((chunk.t - day) * 24).astype(np.int64), 0, 23)
        nums = np.zeros((n, len(self.num_names())), np.float32)
        for j, c in enumerate(self.schema.num_cols):
            x = chunk.num_raw[:, j]
            if self.transform == "signed_log":
                x = signed_log(x)
            nums[:, j] = self._scaled(c, x)
        f = len(self.schema.num_cols)
        nums[:, f] = self._scaled("time_delta", np.log1p(entity_deltas(chunk)))
        nums[:, f + 1] = self._scaled("time_age", signed_log(self.ref - chunk.t))
        return cats, nums

    def _scaled(self, name: str, x: np.ndarray) -> np.ndarray:
        mean, std = self.scale[name]
        out = (x - mean) / std
        return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


class _Fit:
    """Accumulates what fitting needs over chunks: exact category counts, a uniform sample
    (bottom-k random keys) of numeric values and times, and the last time."""

    def __init__(self, schema: Schema, cap: int = 500_000, seed: int = 0):
        self.schema, self.cap = schema, cap
        self.counts = {c: Counter() for c in schema.cat_cols}
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.sample: dict[str, np.ndarray] = {}
        self.t_max = -math.inf

    def add(self, chunk: Chunk) -> None:
        for j, c in enumerate(self.schema.cat_cols):
            self.counts[c].update(chunk.cat_raw[j].dropna().value_counts().to_dict())
        if len(chunk.t):
            self.t_max = max(self.t_max, float(chunk.t.max()))
        cols = {c: chunk.num_raw[:, j] for j, c in enumerate(self.schema.num_cols)}
        cols["time_delta"] = entity_deltas(chunk)
        cols["time_age"] = chunk.t
        keys = self.rng.random(len(chunk.t))
        allkeys = np.concatenate([self.keys, keys])
        keep = np.argsort(allkeys, kind="stable")[: self.cap]
        for name, v in cols.items():
            self.sample[name] = np.concatenate([self.sample.get(name, np.empty(0)), v])[keep]
        self.keys = allkeys[keep]


# ---------------------------------------------------------------------------------------------
# labels


def _read_label_file(path: Path, id_col: str, label_col: str) -> pd.Series:
    table = read_table(path)
    cols = [str(c) for c in table.columns]
    key = id_col if id_col in cols else detect_id(cols, path)
    if label_col:
        if label_col not in cols:
            raise DataError(
                f"label column {label_col!r} not found; columns are: {', '.join(cols)}",
                path=path,
                hint="fix --set data.label_col=COLUMN",
            )
        col = label_col
    else:
        others = [c for c in cols if c != key]
        if len(others) != 1:
            raise DataError(
                f"the labels file has columns {', '.join(cols)}: which one is the label?",
                path=path,
                hint="name it with --set data.label_col=COLUMN",
            )
        col = others[0]
    table = table.dropna(subset=[key])
    ids = clean_ids(table[key])
    dup = ids.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"entity {ids.iloc[i]!r} has two labels", path=path, row=i + 1, column=str(key)
        )
    return pd.Series(table[col].to_numpy(), index=pd.Index(ids.to_numpy()), name=col)


def label_spec(values: pd.Series, kind: str) -> dict[str, Any]:
    """How labels map to targets: classes (classification) or nothing (regression)."""
    v = values.dropna()
    if kind == "auto":
        numeric = pd.api.types.is_numeric_dtype(v)
        many = v.nunique() > 20
        kind = "regression" if numeric and many and not _integral(v) else "classification"
        if numeric and many and _integral(v) and v.nunique() > 50:
            kind = "regression"
    if kind == "classification":
        classes = sorted(v.unique().tolist(), key=lambda x: (str(type(x)), x))
        return {"kind": "classification", "classes": [_json_scalar(c) for c in classes]}
    return {"kind": "regression"}


def _json_scalar(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x


def encode_labels(values: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """Targets: class index (-1 when missing or unknown) or float (nan when missing)."""
    if spec["kind"] == "classification":
        index = pd.Index(spec["classes"])
        codes = index.get_indexer(values.map(_json_scalar).to_numpy(dtype=object))
        return codes.astype(np.int64)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------------------------------------
# padding


def pad_batch(seqs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Right-padded tensors: ``cats`` (B, T, C) long, ``nums`` (B, T, F) float, ``mask`` (B, T)."""
    import torch

    lengths = [len(c) for c, _ in seqs]
    b, t = len(seqs), max(max(lengths, default=1), 1)
    c_dim = seqs[0][0].shape[1] if seqs else 0
    f_dim = seqs[0][1].shape[1] if seqs else 0
    cat = np.zeros((b, t, c_dim), np.int64)
    num = np.zeros((b, t, f_dim), np.float32)
    mask = np.zeros((b, t), bool)
    for i, (c, x) in enumerate(seqs):
        n = len(c)
        cat[i, :n], num[i, :n], mask[i, :n] = c, x, True
    return {
        "cats": torch.from_numpy(cat),
        "nums": torch.from_numpy(num),
        "mask": torch.from_numpy(mask),
    }


def _train_window(n: int, max_len: int) -> tuple[int, int]:
    """A random window of at most ``max_len`` events (torch's RNG, so the engine's seed holds)."""
    if n <= max_len:
        return 0, n
    import torch

    start = int(torch.randint(0, n - max_len + 1, (1,)).item())
    return start, start + max_len


# ---------------------------------------------------------------------------------------------
# the loaded data


class EventsDomainData(DomainData):
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
            "length_quantiles": _quantiles(lengths),
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
                a, b = _train_window(t - s, data.config.max_len)
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
        yield self.chunk.ids[ents], _select(self.chunk, ents), self._codes_of(ents)

    def _codes_of(self, ents: np.ndarray) -> np.ndarray:
        rows = _rows_of(self.chunk.offsets, ents)
        return self.cats[rows]

    def has_labels(self) -> bool:
        return self.labels is not None

    def task_kind(self) -> str:
        return self.label_info["kind"] if self.label_info else "none"

    def state(self) -> dict[str, Any]:
        state = dict(self.pre.state)
        state["labels"] = self.label_info
        return state


def schema_info(pre: Preprocessor, config: EventsData) -> dict[str, Any]:
    """The facts an encoder is sized by: fields, vocabulary sizes, time format, longest history."""
    return {
        "cat_fields": pre.cat_names(),
        "cat_sizes": pre.cat_sizes(),
        "num_fields": pre.num_names(),
        "time_format": pre.schema.time_format,
        "max_len": config.max_len,
    }


def _rows_of(offsets: np.ndarray, ents: np.ndarray) -> np.ndarray:
    starts, ends = offsets[ents], offsets[ents + 1]
    lens = ends - starts
    if lens.sum() == 0:
        return np.empty(0, np.int64)
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return base + np.arange(lens.sum())


def _select(chunk: Chunk, ents: np.ndarray) -> Chunk:
    rows = _rows_of(chunk.offsets, ents)
    lens = chunk.lengths()[ents]
    return Chunk(
        ids=chunk.ids[ents],
        offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        t=chunk.t[rows],
        cat_raw=[s.iloc[rows].reset_index(drop=True) for s in chunk.cat_raw],
        num_raw=chunk.num_raw[rows],
        after=chunk.after[ents],
    )


def _quantiles(lengths: np.ndarray) -> dict[str, float]:
    if not len(lengths):
        return {}
    qs = np.quantile(lengths, [0.1, 0.5, 0.9])
    return {"p10": float(qs[0]), "p50": float(qs[1]), "p90": float(qs[2])}


# ---------------------------------------------------------------------------------------------
# entry points


def _state_config(config: EventsData, state: dict[str, Any] | None) -> None:
    if state is not None and state.get("version") != STATE_VERSION:
        raise DataError(
            f"preprocessing state version {state.get('version')!r}; this sslkit-events reads "
            f"version {STATE_VERSION}",
            hint="retrain the run with this version",
        )


def load_data(config: EventsData, state: dict[str, Any] | None = None) -> DomainData:
    """The plugin's loader: fit the preprocessing (``state=None``) or reuse a saved one."""
    _state_config(config, state)
    config, dataset = resolve_config(config)
    if config.stream:
        from sslkit.events.stream import load_stream

        return load_stream(config, state, dataset)
    path = Path(config.path)
    frame = read_table(path)
    return from_frame(frame, config, state=state, dataset=dataset, path=path)


def from_frame(
    frame: pd.DataFrame,
    config: EventsData | None = None,
    *,
    state: dict[str, Any] | None = None,
    labels: pd.Series | None = None,
    dataset: str | None = None,
    path: Any = "<DataFrame>",
) -> EventsDomainData:
    """Load events from a DataFrame (one row per event). ``labels``: optional Series of entity
    labels indexed by entity id (overrides ``config.labels``)."""
    config = config or EventsData()
    _state_config(config, state)
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
        fit = _Fit(schema)
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
    return _guess_time_format(frame[schema.time_col], schema.time_col)


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
        table = _read_label_file(p, config.id_col, config.label_col)
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
