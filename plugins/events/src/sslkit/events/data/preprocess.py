"""The fitted preprocessing: vocabularies, scaling statistics and the reference time (JSON)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError
from sslkit.events.configs import EventsData
from sslkit.events.data.chunks import Chunk, entity_deltas, signed_log
from sslkit.events.data.schema import Schema
from sslkit.events.data.times import DATE_FORMATS

STATE_VERSION = 1
PAD, UNK = 0, 1


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


class FitAccumulator:
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


def schema_info(pre: Preprocessor, config: EventsData) -> dict[str, Any]:
    """The facts an encoder is sized by: fields, vocabulary sizes, time format, longest history."""
    return {
        "cat_fields": pre.cat_names(),
        "cat_sizes": pre.cat_sizes(),
        "num_fields": pre.num_names(),
        "time_format": pre.schema.time_format,
        "max_len": config.max_len,
    }


def check_state_version(config: EventsData, state: dict[str, Any] | None) -> None:
    if state is not None and state.get("version") != STATE_VERSION:
        raise DataError(
            f"preprocessing state version {state.get('version')!r}; this sslkit-events reads "
            f"version {STATE_VERSION}",
            hint="retrain the run with this version",
        )
