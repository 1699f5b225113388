"""Chunks: a DataFrame of complete entities -> events sorted by (entity, time) as typed arrays."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError
from sslkit.events.data.schema import Schema, is_integral
from sslkit.events.data.times import parse_times


def signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def as_category_text(s: pd.Series) -> pd.Series:
    """Category values as text, with integral floats written as integers (12.0 -> "12")."""
    if pd.api.types.is_float_dtype(s) and is_integral(s):
        s = s.astype("Int64")
    return s.astype("string")


def clean_ids(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s) and is_integral(s):
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


def rows_of(offsets: np.ndarray, ents: np.ndarray) -> np.ndarray:
    starts, ends = offsets[ents], offsets[ents + 1]
    lens = ends - starts
    if lens.sum() == 0:
        return np.empty(0, np.int64)
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return base + np.arange(lens.sum())


def select_entities(chunk: Chunk, ents: np.ndarray) -> Chunk:
    rows = rows_of(chunk.offsets, ents)
    lens = chunk.lengths()[ents]
    return Chunk(
        ids=chunk.ids[ents],
        offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        t=chunk.t[rows],
        cat_raw=[s.iloc[rows].reset_index(drop=True) for s in chunk.cat_raw],
        num_raw=chunk.num_raw[rows],
        after=chunk.after[ents],
    )


def length_quantiles(lengths: np.ndarray) -> dict[str, float]:
    if not len(lengths):
        return {}
    qs = np.quantile(lengths, [0.1, 0.5, 0.9])
    return {"p10": float(qs[0]), "p50": float(qs[1]), "p90": float(qs[2])}
