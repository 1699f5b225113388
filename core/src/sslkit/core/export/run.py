"""``sslkit export``: stream a run's embeddings (or its encoder) into production formats.

Embeddings are computed and written batch by batch (no format holds them all in memory).
Under ``torchrun`` batch ``i`` goes to rank ``i % world_size``, each rank writes its own part
files, and rank 0 writes ``manifest.json`` (parts, rows, fingerprints) and the model card.
Everything is written into a temporary folder beside the target and renamed into place only
when complete; a failure on any rank removes it. An existing output is replaced only with
``overwrite``.

Layout of ``<out>/``: ``manifest.json``, ``model_card.json`` and

- parquet: ``embeddings.parquet`` (or ``embeddings-RRRRR-of-WWWWW.parquet`` per rank)
- npy: ``embeddings.npy`` + ``ids.npy`` (per rank: ``embeddings-RRRRR-of-WWWWW.npy`` ...)
- faiss: ``index.faiss`` + ``ids.npy`` (row ``i`` of the index is ``ids[i]``)
- onnx: ``encoder.onnx``; safetensors: ``backbone.safetensors``
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslkit.core.engine.method import move_to
from sslkit.core.errors import DataError, RunError, UsageError

FORMATS = ("parquet", "npy", "faiss", "onnx", "safetensors")
STREAMED = ("parquet", "npy", "faiss")
OPTIONS: dict[str, dict[str, Any]] = {
    "faiss": {
        "index": ("flat", "ivf", "hnsw"),
        "metric": ("cosine", "ip"),
        "nlist": int,
        "nprobe": int,
        "hnsw_m": int,
        "ef_search": int,
    },
}


def check_request(to: str, options: dict[str, Any]) -> None:
    """Unknown formats and options that do not apply fail before anything is loaded."""
    if to not in FORMATS:
        raise UsageError(f"unknown export format {to!r}; available: {', '.join(FORMATS)}")
    allowed = OPTIONS.get(to, {})
    for key, value in options.items():
        if value is None:
            continue
        if key not in allowed:
            where = [f for f, opts in OPTIONS.items() if key in opts]
            raise UsageError(
                f"option {key!r} does not apply to --to {to}"
                + (f" (only to {', '.join(where)})" if where else "")
            )
        kind = allowed[key]
        if isinstance(kind, tuple) and value not in kind:
            raise UsageError(f"unknown {key} {value!r} for --to {to}; available: {', '.join(kind)}")
        if kind is int and (not isinstance(value, int) or value < 0):
            raise UsageError(f"{key} must be a non-negative integer, got {value!r}")


def target_folder(run_dir: Path, to: str, out: str | Path | None, overwrite: bool) -> Path:
    target = Path(out) if out else Path(run_dir) / "export" / to
    if target.exists() and not target.is_dir():
        raise RunError(f"{target} exists and is not a folder; choose another --out")
    if target.exists() and not overwrite:
        raise RunError(f"{target} already exists; pass --overwrite to replace it")
    return target


def check_dim(method: Any, dim: int | None) -> int:
    full = int(method.embed_dim)
    if dim is None or dim == full:
        return full
    nested = tuple(int(d) for d in getattr(method, "nested_dims", ()))
    if dim not in nested:
        raise UsageError(
            f"--dim {dim}: this encoder was trained at sizes "
            f"{', '.join(map(str, sorted({*nested, full})))}; train with Matryoshka sizes to "
            "export smaller embeddings"
        )
    return dim


def export_device(device: str) -> str:
    """``auto`` -> CUDA when available; under torchrun each rank takes its local GPU."""
    from sslkit.core.distributed import local_rank, world_size
    from sslkit.core.engine.device import select_device

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and world_size() > 1:
        device = f"cuda:{local_rank()}"
    select_device(device)  # a UsageError naming --device when it is not on this machine
    return device


# ---------------------------------------------------------------------------------------------
# process group (torchrun)


class _Group:
    """Rank, world size and the few collectives export needs. Launched by torchrun without a
    process group, it starts one (gloo) and keeps it for the life of the
    process, so that several exports in one script reuse it (ended at exit)."""

    def __init__(self, device: str):
        import torch.distributed as dist

        from sslkit.core import distributed

        self.dist = dist
        if (
            int(os.environ.get("WORLD_SIZE", 1)) > 1
            and dist.is_available()
            and not dist.is_initialized()
        ):
            import atexit

            # gloo on GPUs too: the group only carries a flag and small objects, CPU tensors
            # that NCCL cannot take
            dist.init_process_group("gloo")
            atexit.register(_end_group)
        self.rank, self.world = distributed.rank(), distributed.world_size()

    def all_ok(self, ok: bool) -> bool:
        if self.world == 1:
            return ok
        flag = torch.tensor([1 if ok else 0])
        self.dist.all_reduce(flag, op=self.dist.ReduceOp.MIN)
        return bool(flag.item())

    def broadcast(self, value: Any) -> Any:
        if self.world == 1:
            return value
        box = [value]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]


def _end_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# streaming


@torch.no_grad()
def iter_embeddings(
    loaded: Any, batch_size: int, dim: int, device: str = "cpu", rank: int = 0, world: int = 1
):
    """``(ids, embeddings, inputs)`` of this rank's batches (batch ``i`` on rank ``i % world``)."""
    method = loaded.method
    method.eval()
    dev = torch.device(device)
    seen = 0
    for i, batch in enumerate(loaded.data.export_batches(batch_size)):
        ids = np.asarray(batch.ids)
        if i % world != rank:
            seen += len(ids)
            continue
        z = method.embed(move_to(batch.inputs, dev))
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


SAMPLE_ROWS = 4096


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


def _suffix(rank: int, world: int) -> str:
    return "" if world == 1 else f"-{rank:05d}-of-{world:05d}"


def _stream_part(
    loaded: Any,
    to: str,
    tmp: Path,
    dim: int,
    card: dict[str, Any],
    batch_size: int,
    device: str,
    rank: int,
    world: int,
) -> dict[str, Any]:
    """Write this rank's part files; returns the part's manifest entry."""
    from sslkit.core.export.card import RowsFingerprint
    from sslkit.core.export.writers import IdsWriter, NpyStreamWriter, ParquetWriter

    sfx = _suffix(rank, world)
    files: dict[str, str] = {}
    if to == "parquet":
        files["embeddings"] = f"embeddings{sfx}.parquet"
        writer = ParquetWriter(tmp / files["embeddings"], dim, card)
        write = writer.write
        closers = [writer.close]
    else:
        files["embeddings"] = f"embeddings{sfx}.npy"
        files["ids"] = f"ids{sfx}.npy"
        emb_w = NpyStreamWriter(tmp / files["embeddings"], np.float32, (dim,))
        ids_w = IdsWriter(tmp / files["ids"])

        def write(ids, emb):
            ids_w.write(ids)
            emb_w.write(emb)

        closers = [emb_w.close, ids_w.close]
    fingerprint = RowsFingerprint()
    sample = Reservoir(SAMPLE_ROWS, seed=rank)
    start = time.perf_counter()
    try:
        for ids, emb, inputs in iter_embeddings(loaded, batch_size, dim, device, rank, world):
            write(ids, emb)
            fingerprint.update(ids, inputs)
            sample.add(emb)
    finally:
        for close in closers:
            close()
    seconds = time.perf_counter() - start
    np.save(tmp / f".sample-{rank:05d}.npy", sample.rows(), allow_pickle=False)
    return {
        "rank": rank,
        "files": files,
        "rows": fingerprint.rows,
        "rows_fingerprint": fingerprint.hexdigest(),
        "seconds": round(seconds, 3),
    }


def _finish_faiss(tmp: Path, parts: list[dict[str, Any]], options: dict[str, Any], seed: int):
    """Build the index from the streamed parts, merge ids, drop the staging embeddings."""
    import faiss

    from sslkit.core.export.faiss_index import Rows, build_index, recall_at_k
    from sslkit.core.export.writers import IdsWriter

    rows = Rows([tmp / p["files"]["embeddings"] for p in parts])
    if len(rows) == 0:
        raise DataError("no rows to index: the export data is empty")
    kind = options.get("index") or "flat"
    metric = options.get("metric") or "cosine"
    index, facts = build_index(
        rows,
        kind,
        metric,
        nlist=options.get("nlist") or 0,
        nprobe=options.get("nprobe") or 0,
        hnsw_m=options.get("hnsw_m") or 32,
        ef_search=options.get("ef_search") or 128,
        seed=seed,
    )
    if kind != "flat":
        facts.update(recall_at_k(index, rows, metric, k=10, seed=seed))
        facts["recall_against"] = "exact inner-product search (flat index), same rows"
    faiss.write_index(index, str(tmp / "index.faiss"))
    del index, rows
    if len(parts) > 1:
        ids = IdsWriter(tmp / "ids.npy")
        for p in parts:
            for start in range(0, p["rows"], 65536):
                part = np.load(tmp / p["files"]["ids"], mmap_mode="r")
                ids.write(np.asarray(part[start : start + 65536]))
        ids.close()
    for p in parts:
        (tmp / p["files"]["embeddings"]).unlink()
        if len(parts) > 1:
            (tmp / p["files"]["ids"]).unlink()
    facts["files"] = {"index": "index.faiss", "ids": "ids.npy"}
    facts["query"] = (
        "L2-normalise query embeddings, then index.search(q, k); row i is ids[i]"
        if metric == "cosine"
        else "index.search(q, k) on raw embeddings (inner product); row i is ids[i]"
    )
    return facts


# ---------------------------------------------------------------------------------------------
# the export


def export_run(
    loaded: Any,
    *,
    to: str,
    out: str | Path | None = None,
    dim: int | None = None,
    overwrite: bool = False,
    batch_size: int = 4096,
    device: str = "cpu",
    log=None,
    **options: Any,
) -> Path:
    """Export ``loaded`` (an :class:`sslkit.core.api.LoadedRun`) as ``to`` into ``out``."""
    from sslkit.core.evaluate.report import swap_in
    from sslkit.core.export.card import model_card, write_card

    check_request(to, options)
    dim = check_dim(loaded.method, dim)
    options = {k: v for k, v in options.items() if v is not None}
    group = _Group(device)
    # every rank checks the target (same answer on a shared file system: no rank waits alone)
    target = target_folder(loaded.run_dir, to, out, overwrite)
    made_parent = not target.parent.exists()
    prepared: tuple[str | None, str | None] = (None, None)
    if group.rank == 0:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            prepared = (
                tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent),
                None,
            )
        except OSError as exc:
            prepared = (None, f"cannot write next to {target}: {exc.strerror or exc}")
    tmp_name, problem = group.broadcast(prepared)
    if problem is not None:
        raise RunError(problem + "; choose a writable --out")
    tmp = Path(tmp_name)
    start = time.perf_counter()

    error: BaseException | None = None
    part: dict[str, Any] | None = None
    restore = _raise_on_sigterm()
    try:
        try:
            card = model_card(loaded, dim, to, **({"faiss": options} if to == "faiss" else {}))
            if to in STREAMED:
                part = _stream_part(
                    loaded, to, tmp, dim, card, batch_size, device, group.rank, group.world
                )
                (tmp / f".part-{group.rank:05d}.json").write_text(json.dumps(part))
        except BaseException as exc:
            error = exc
        if not group.all_ok(error is None):
            if group.rank == 0:
                _discard(tmp, target.parent if made_parent else None)
            if error is not None:
                raise error
            raise RunError("export failed on another rank; nothing was written")

        if group.rank == 0:
            try:
                manifest = _finish(loaded, to, tmp, dim, card, options, group.world, batch_size)
                manifest["seconds"] = round(time.perf_counter() - start, 3)
                if manifest.get("rows"):
                    manifest["rows_per_second"] = round(
                        manifest["rows"] / max(manifest["seconds"], 1e-9), 1
                    )
                card.update({k: manifest[k] for k in ("rows", "rows_fingerprint") if k in manifest})
                write_card(tmp, card)
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
                for stale in tmp.glob(".part-*.json"):
                    stale.unlink()
                swap_in(tmp, target)
            except BaseException as exc:
                error = exc
                _discard(tmp, target.parent if made_parent else None)
        if not group.all_ok(error is None):
            if error is not None:
                raise error
            raise RunError("export failed on rank 0; nothing was written")
        if log is not None and group.rank == 0:
            log(f"exported to {target}")
        return target
    finally:
        restore()


class Interrupted(RunError):
    """SIGTERM during an export (the partial output is removed)."""


def _raise_on_sigterm():
    """Turn SIGTERM into an exception while exporting, so the temporary folder is removed;
    returns the function that puts the previous handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise Interrupted("export interrupted by SIGTERM; nothing was written")

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _discard(tmp: Path, made_parent: Path | None) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    if made_parent is not None:
        try:
            made_parent.rmdir()  # only when empty: the folder this export created
        except OSError:
            pass


def _sample_stats(tmp: Path, world: int, seed: int) -> dict[str, Any]:
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


def _finish(
    loaded: Any,
    to: str,
    tmp: Path,
    dim: int,
    card: dict[str, Any],
    options: dict[str, Any],
    world: int,
    batch_size: int,
) -> dict[str, Any]:
    """Rank 0, after every part is written: the format's last step and the manifest."""
    manifest: dict[str, Any] = {
        "format": to,
        "embedding_dim": dim,
        "world_size": world,
        "created": card["created"],
    }
    if to in STREAMED:
        parts = [
            json.loads((tmp / f".part-{r:05d}.json").read_text(encoding="utf-8"))
            for r in range(world)
        ]
        import hashlib

        manifest["rows"] = sum(p["rows"] for p in parts)
        card["metrics"]["exported_embeddings"] = _sample_stats(tmp, world, loaded.config.train.seed)
        manifest["rows_fingerprint"] = hashlib.sha256(
            "".join(p["rows_fingerprint"] for p in parts).encode()
        ).hexdigest()[:32]
        manifest["order"] = (
            "rows in the order of the data"
            if world == 1
            else f"batch i of the data is in the part of rank i % {world}"
        )
        if to == "faiss":
            card["faiss"] = _finish_faiss(tmp, parts, options, loaded.config.train.seed)
            manifest["files"] = card["faiss"]["files"]
            manifest["parts"] = [{k: v for k, v in p.items() if k != "files"} for p in parts]
        else:
            manifest["parts"] = parts
    elif to == "onnx":
        from sslkit.core.export.encoder import export_onnx

        card["onnx"] = export_onnx(
            loaded.method, loaded.data, tmp, dim, batch_size=min(batch_size, 64)
        )
        manifest["files"] = {"encoder": card["onnx"]["file"]}
    elif to == "safetensors":
        from sslkit.core.export.encoder import export_backbone

        card["safetensors"] = export_backbone(loaded, tmp, dim, batch_size=min(batch_size, 64))
        manifest["files"] = {"weights": card["safetensors"]["file"]}
    manifest["files"] = {**manifest.get("files", {}), "card": "model_card.json"}
    return manifest
