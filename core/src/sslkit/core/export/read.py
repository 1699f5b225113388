"""Read an export back: ``manifest.json`` names the part files of every rank."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import RunError


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise RunError(f"{folder} is not an sslkit export (no manifest.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def read_card(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / "model_card.json").read_text(encoding="utf-8"))


def iter_embeddings(
    folder: str | Path, chunk: int = 65536
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ids, embeddings)`` chunks of a parquet or npy export, part after part."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    fmt = manifest["format"]
    if fmt not in ("parquet", "npy"):
        raise RunError(f"{folder} holds a {fmt} export; embeddings are in parquet and npy exports")
    for part in manifest["parts"]:
        files = part["files"]
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(folder / files["embeddings"])
            for batch in pf.iter_batches(batch_size=chunk):
                emb = batch.column(1)
                dim = emb.type.list_size
                x = emb.values.to_numpy(zero_copy_only=False).reshape(-1, dim)
                yield batch.column(0).to_numpy(zero_copy_only=False), x
        else:
            x = np.load(folder / files["embeddings"], mmap_mode="r")
            ids = np.load(folder / files["ids"], mmap_mode="r")
            for start in range(0, len(x), chunk):
                yield np.asarray(ids[start : start + chunk]), np.asarray(x[start : start + chunk])


def load_embeddings(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """All ids and embeddings of a (small) parquet or npy export, in memory."""
    ids, xs = [], []
    for i, x in iter_embeddings(folder):
        ids.append(i)
        xs.append(x)
    if not xs:
        return np.empty(0), np.empty((0, read_manifest(folder)["embedding_dim"]), np.float32)
    return np.concatenate(ids), np.concatenate(xs)
