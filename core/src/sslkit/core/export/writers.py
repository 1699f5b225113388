"""Streaming embedding writers: batches in, files out, never all embeddings in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class ParquetWriter:
    """``id`` + ``embedding`` (fixed-size list of float32); the model card in schema metadata."""

    suffix = ".parquet"

    def __init__(self, path: Path, dim: int, card: dict[str, Any], id_type=None):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.dim = dim
        self.path = path
        self.schema = None
        self.card = card
        self._pq = pq
        self.writer = None

    def write(self, ids: np.ndarray, emb: np.ndarray) -> None:
        pa = self.pa
        flat = pa.array(np.ascontiguousarray(emb, dtype=np.float32).reshape(-1))
        emb_arr = pa.FixedSizeListArray.from_arrays(flat, self.dim)
        table = pa.table({"id": pa.array(ids), "embedding": emb_arr})
        if self.writer is None:
            self.schema = table.schema.with_metadata(
                {"sslkit.model_card": json.dumps(self.card, default=str)}
            )
            self.writer = self._pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class NpyWriter:
    """``embeddings.npy`` (float32, memory-mapped while written) and ``ids.npy`` beside it."""

    def __init__(self, folder: Path, dim: int, rows: int):
        from numpy.lib.format import open_memmap

        self.emb = open_memmap(
            folder / "embeddings.npy", mode="w+", dtype=np.float32, shape=(rows, dim)
        )
        self.ids_path = folder / "ids.npy"
        self.ids: list[np.ndarray] = []
        self.offset = 0

    def write(self, ids: np.ndarray, emb: np.ndarray) -> None:
        n = len(emb)
        self.emb[self.offset : self.offset + n] = emb
        self.offset += n
        self.ids.append(np.asarray(ids))

    def close(self) -> None:
        self.emb.flush()
        np.save(
            self.ids_path, np.concatenate(self.ids) if self.ids else np.empty(0), allow_pickle=False
        )
