"""Streaming writers: batches in, files out; no writer holds more than one batch.

- :class:`ParquetWriter`: ``id`` + ``embedding`` (fixed-size list of float32), one row group
  per batch, the model card (JSON) in the schema metadata under ``sslkit.model_card``.
- :class:`NpyStreamWriter`: a ``.npy`` file whose row count is unknown until the end: the data
  is appended after a fixed-size header that is rewritten with the final shape on close.
- :class:`IdsWriter`: ``ids.npy`` beside the embeddings: int64 ids streamed directly; string
  ids spooled to an Arrow file and converted to fixed-width unicode on close.
- :class:`ParquetPart`, :class:`NpyPart`: one rank's part files of a streamed export format.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

CARD_KEY = "sslkit.model_card"

_MAGIC = b"\x93NUMPY"
_HEADER_BYTES = 256  # multiple of 64, room for any (rows, dim) shape and a long unicode dtype


def normalise_ids(ids: Any) -> np.ndarray:
    """Ids as a 1-D int64 or str array (other kinds become their string form)."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        arr = np.asarray([str(v) for v in arr.tolist()] if arr.ndim else [str(arr.item())])
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "U":
        return arr
    return arr.astype(str)


class ParquetWriter:
    """``id`` + ``embedding`` (fixed-size list of float32); the model card in schema metadata."""

    def __init__(self, path: Path, dim: int, card: dict[str, Any]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.pq = pa, pq
        self.dim, self.path, self.card = dim, Path(path), card
        self.writer = None
        self.schema = None
        self.rows = 0

    def _schema(self, ids: np.ndarray):
        pa = self.pa
        id_type = pa.int64() if ids.dtype.kind == "i" else pa.string()
        return pa.schema(
            [("id", id_type), ("embedding", pa.list_(pa.float32(), self.dim))],
            metadata={CARD_KEY: json.dumps(self.card, default=str)},
        )

    def write(self, ids: np.ndarray, emb: np.ndarray) -> None:
        pa = self.pa
        ids = normalise_ids(ids)
        if self.writer is None:
            self.schema = self._schema(ids)
            self.writer = self.pq.ParquetWriter(self.path, self.schema, compression="snappy")
        flat = pa.array(np.ascontiguousarray(emb, dtype=np.float32).reshape(-1), pa.float32())
        emb_arr = pa.FixedSizeListArray.from_arrays(flat, self.dim)
        id_arr = pa.array(ids.tolist() if ids.dtype.kind == "U" else ids, self.schema.field(0).type)
        self.writer.write_table(pa.Table.from_arrays([id_arr, emb_arr], schema=self.schema))
        self.rows += len(ids)

    def close(self, card: dict[str, Any] | None = None) -> None:
        """Finish the file; ``card`` (the final one, with row counts) replaces the metadata."""
        if self.writer is None:  # no rows: still a valid, empty file with the schema
            self.schema = self._schema(np.empty(0, np.int64))
            self.writer = self.pq.ParquetWriter(self.path, self.schema, compression="snappy")
        if card is not None:
            self.writer.add_key_value_metadata({CARD_KEY: json.dumps(card, default=str)})
        self.writer.close()


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = _HEADER_BYTES - 10 - len(text) - 1
    if pad < 0:
        raise ValueError(f"npy header too long for shape {shape} and dtype {dtype}")
    body = (text + " " * pad + "\n").encode("latin1")
    return _MAGIC + bytes([1, 0]) + struct.pack("<H", len(body)) + body


class NpyStreamWriter:
    """Append rows of a fixed shape to a ``.npy`` file; the header gets the row count on close."""

    def __init__(self, path: Path, dtype: Any, row_shape: tuple[int, ...]):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.rows = 0
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self.fh.write(_npy_header(self.dtype, (0, *self.row_shape)))

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]}, expected {self.row_shape}")
        self.fh.write(rows.tobytes())
        self.rows += len(rows)

    def close(self) -> None:
        self.fh.seek(0)
        self.fh.write(_npy_header(self.dtype, (self.rows, *self.row_shape)))
        self.fh.close()


class IdsWriter:
    """``ids.npy``: int64 ids streamed as they come; string ids spooled to an Arrow IPC file
    (one record batch per write) and converted, batch by batch, to ``<U{longest}`` on close."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows = 0
        self.kind: str | None = None
        self._npy: NpyStreamWriter | None = None
        self._spool = None
        self._longest = 1

    def write(self, ids: Any) -> None:
        ids = normalise_ids(ids)
        if self.kind is None:
            self.kind = "int" if ids.dtype.kind == "i" else "str"
            if self.kind == "int":
                self._npy = NpyStreamWriter(self.path, np.int64, ())
            else:
                import pyarrow as pa

                self._spool_path = self.path.with_name(f".{self.path.name}.spool.arrow")
                self._spool = pa.ipc.new_file(
                    pa.OSFile(str(self._spool_path), "wb"), pa.schema([("id", pa.string())])
                )
        elif (self.kind == "int") != (ids.dtype.kind == "i"):
            raise ValueError("ids change type between batches (numbers, then strings)")
        if self._npy is not None:
            self._npy.write(ids)
        else:
            import pyarrow as pa

            strings = ids.tolist()
            self._longest = max(self._longest, max((len(s) for s in strings), default=1))
            self._spool.write_batch(pa.record_batch([pa.array(strings, pa.string())], names=["id"]))
        self.rows += len(ids)

    def close(self) -> None:
        if self.kind is None:
            NpyStreamWriter(self.path, np.int64, ()).close()
            return
        if self._npy is not None:
            self._npy.close()
            return
        import pyarrow as pa

        self._spool.close()
        out = NpyStreamWriter(self.path, f"<U{self._longest}", ())
        with pa.memory_map(str(self._spool_path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                out.write(np.asarray(reader.get_batch(i).column(0).to_pylist(), dtype=out.dtype))
        out.close()
        self._spool_path.unlink()


# ---------------------------------------------------------------------------------------------
# one rank's part files of a streamed export (the ``parts`` of an export format)


class ParquetPart:
    """``embeddings{suffix}.parquet``."""

    def __init__(self, folder: Path, suffix: str, dim: int, card: dict[str, Any]):
        self.files = {"embeddings": f"embeddings{suffix}.parquet"}
        self._writer = ParquetWriter(folder / self.files["embeddings"], dim, card)

    def write(self, ids: np.ndarray, emb: np.ndarray) -> None:
        self._writer.write(ids, emb)

    def close(self) -> None:
        self._writer.close()


class NpyPart:
    """``embeddings{suffix}.npy`` (float32 rows) and ``ids{suffix}.npy``."""

    def __init__(self, folder: Path, suffix: str, dim: int, card: dict[str, Any]):
        self.files = {"embeddings": f"embeddings{suffix}.npy", "ids": f"ids{suffix}.npy"}
        self._emb = NpyStreamWriter(folder / self.files["embeddings"], np.float32, (dim,))
        self._ids = IdsWriter(folder / self.files["ids"])

    def write(self, ids: np.ndarray, emb: np.ndarray) -> None:
        self._ids.write(ids)
        self._emb.write(emb)

    def close(self) -> None:
        self._emb.close()
        self._ids.close()
