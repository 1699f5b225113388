"""Streaming a run's embeddings: batch by batch through the encoder into one rank's part files,
with a fingerprint of the rows and a uniform sample of the vectors (for the card's metrics).

Under ``torchrun`` batch ``i`` goes to rank ``i % world_size``; each rank writes its own part
(``<name>-RRRRR-of-WWWWW.<ext>``) and a ``.part-RRRRR.json`` entry that rank 0 reads back.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.data import space_export_batches
from sslkit.core.engine.method import embed_in, move_to
from sslkit.core.errors import DataError, RunError
from sslkit.core.export.card import RowsFingerprint
from sslkit.core.export.formats import ExportFormat, open_parts

SAMPLE_ROWS = 4096


@torch.no_grad()
def iter_embeddings(
    loaded: Any,
    batch_size: int,
    dim: int,
    device: str = "cpu",
    rank: int = 0,
    world: int = 1,
    space: str | None = None,
):
    """``(ids, embeddings, inputs)`` of this rank's batches (batch ``i`` on rank ``i % world``),
    of ``space`` (``None``: the method's only space)."""
    method = loaded.method
    method.eval()
    dev = torch.device(device)
    seen = 0
    for i, batch in enumerate(space_export_batches(loaded.data, batch_size, space)):
        ids = np.asarray(batch.ids)
        if i % world != rank:
            seen += len(ids)
            continue
        z = embed_in(method, move_to(batch.inputs, dev), space)
        if z.ndim != 2 or z.shape[0] != len(ids):
            raise RunError(
                f"embed() returned shape {tuple(z.shape)} for a batch of {len(ids)} ids; "
                "the method's embed must return (batch, embed_dim)"
            )
        emb = z[:, :dim].float().cpu().numpy()
        bad = ~np.isfinite(emb).all(1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"the embedding of id {ids[first]!r} is not finite (NaN or inf)",
                row=seen + first,
                hint="check that row of the input for NaN/inf or extreme values",
            )
        seen += len(ids)
        yield ids, emb, batch.inputs


class Reservoir:
    """A uniform sample of at most ``size`` streamed rows (Vitter's algorithm R)."""

    def __init__(self, size: int, seed: int = 0):
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)
        self.buf: np.ndarray | None = None
        self.filled = 0

    def add(self, rows: np.ndarray) -> None:
        if self.buf is None:
            self.buf = np.empty((self.size, rows.shape[1]), np.float32)
        take = min(len(rows), self.size - self.filled)
        self.buf[self.filled : self.filled + take] = rows[:take]
        self.filled += take
        self.seen += take
        rest = rows[take:]
        if len(rest):
            # row t (0-based count seen before it) replaces slot j ~ U{0..t} when j < size
            t = self.seen + np.arange(len(rest))
            j = np.floor(self.rng.random(len(rest)) * (t + 1)).astype(np.int64)
            hit = j < self.size
            self.buf[j[hit]] = rest[hit]  # repeated slots: the later row wins, as in order
            self.seen += len(rest)

    def rows(self) -> np.ndarray:
        return np.empty((0, 0), np.float32) if self.buf is None else self.buf[: self.filled]


def part_suffix(rank: int, world: int) -> str:
    return "" if world == 1 else f"-{rank:05d}-of-{world:05d}"


def stream_part(
    loaded: Any,
    fmt: ExportFormat,
    tmp: Path,
    dim: int,
    card: dict[str, Any],
    batch_size: int,
    device: str,
    rank: int,
    world: int,
    space: str | None = None,
) -> dict[str, Any]:
    """Write this rank's part files (and its ``.part-RRRRR.json``); returns the part's
    manifest entry."""
    writer = open_parts(fmt, tmp, part_suffix(rank, world), dim, card)
    fingerprint = RowsFingerprint()
    sample = Reservoir(SAMPLE_ROWS, seed=rank)
    start = time.perf_counter()
    try:
        for ids, emb, inputs in iter_embeddings(
            loaded, batch_size, dim, device, rank, world, space
        ):
            writer.write(ids, emb)
            fingerprint.update(ids, inputs)
            sample.add(emb)
    finally:
        writer.close()
    seconds = time.perf_counter() - start
    np.save(tmp / f".sample-{rank:05d}.npy", sample.rows(), allow_pickle=False)
    part = {
        "rank": rank,
        "files": dict(writer.files),
        "rows": fingerprint.rows,
        "rows_fingerprint": fingerprint.hexdigest(),
        "seconds": round(seconds, 3),
    }
    (tmp / f".part-{rank:05d}.json").write_text(json.dumps(part))
    return part


def read_parts(tmp: Path, world: int) -> list[dict[str, Any]]:
    """Every rank's part entry, rank by rank (rank 0, once all are written)."""
    return [
        json.loads((tmp / f".part-{r:05d}.json").read_text(encoding="utf-8")) for r in range(world)
    ]


def parts_fingerprint(parts: list[dict[str, Any]]) -> str:
    """One fingerprint of all the exported rows, from the parts' fingerprints in rank order."""
    return hashlib.sha256("".join(p["rows_fingerprint"] for p in parts).encode()).hexdigest()[:32]


def sample_stats(tmp: Path, world: int, seed: int) -> dict[str, Any]:
    """RankMe, uniformity and embedding std of a uniform sample of the exported vectors."""
    from sslkit.core.evaluate.embeddings import Embeddings
    from sslkit.core.evaluate.probes import representation_stats

    files = [tmp / f".sample-{r:05d}.npy" for r in range(world)]
    parts = [np.load(f) for f in files]
    for f in files:
        f.unlink()
    x = np.concatenate([p for p in parts if p.size]) if any(p.size for p in parts) else None
    if x is None or len(x) < 2:
        return {}
    stats = representation_stats(Embeddings(np.arange(len(x)), x), seed=seed)
    return {k: v for k, v in stats.items() if k != "ideal_std"}
