"""``sslkit export``: stream a run's embeddings (or its encoder) into production formats.

Embeddings are computed and written batch by batch (no format holds them all in memory).
Under ``torchrun`` batch ``i`` goes to rank ``i % world_size``, each rank writes its own part
files, and rank 0 writes ``manifest.json`` (parts, rows, fingerprints) and the model card.
Everything is written into a temporary folder beside the target and renamed into place only
when complete; a failure on any rank removes it. An existing output is replaced only with
``overwrite``.

Layout of ``<out>/``: ``manifest.json``, ``model_card.json`` and the format's files
(:data:`sslkit.core.export.formats.FORMATS`):

- parquet: ``embeddings.parquet`` (or ``embeddings-RRRRR-of-WWWWW.parquet`` per rank)
- npy: ``embeddings.npy`` + ``ids.npy`` (per rank: ``embeddings-RRRRR-of-WWWWW.npy`` ...)
- faiss: ``index.faiss`` + ``ids.npy`` (row ``i`` of the index is ``ids[i]``)
- onnx: ``encoder.onnx``; safetensors: ``backbone.safetensors``

A method with several embedding spaces (``Method.spaces``, e.g. users and items) exports one
space at a time (``space=``; default: its first space), into ``<run>/export/<space>/<format>``
unless ``out`` is given; the manifest and the model card name the space (and whether it was
the default one).

The pieces: :mod:`.request` (checks before any data is read), :mod:`.formats` (the registry),
:mod:`.group` (torchrun), :mod:`.stream` (embeddings into part files), :mod:`.staging` (the
temporary folder), :mod:`.card` (the model card).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sslkit.core.errors import RunError
from sslkit.core.export.formats import ExportFormat, Finishing, finish
from sslkit.core.export.group import ExportGroup
from sslkit.core.export.request import check_dim, check_request, target_folder
from sslkit.core.export.staging import discard, raise_on_sigterm, staging_folder
from sslkit.core.export.stream import (
    parts_fingerprint,
    read_parts,
    sample_stats,
    stream_part,
)


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
    space: str | None = None,
    **options: Any,
) -> Path:
    """Export ``loaded`` (an :class:`sslkit.core.runs.LoadedRun`) as ``to`` into ``out``;
    ``space``: the embedding space of a method with several (default: its first); an unknown
    one is a :class:`UsageError` listing them."""
    from sslkit.core.engine.method import check_space, method_spaces
    from sslkit.core.evaluate.report import swap_in
    from sslkit.core.export.card import model_card, write_card

    fmt = check_request(to, options)
    requested = space
    space = check_space(loaded.method, space)
    dim = check_dim(loaded.method, dim, space)
    options = {k: v for k, v in options.items() if v is not None}
    group = ExportGroup(device)
    # every rank checks the target (same answer on a shared file system: no rank waits alone)
    target = target_folder(loaded.run_dir, to, out, overwrite, space)
    made_parent = target.parent if not target.parent.exists() else None
    tmp = staging_folder(group, target)
    start = time.perf_counter()

    error: BaseException | None = None
    restore = raise_on_sigterm()
    try:
        try:
            card = model_card(
                loaded, dim, to, space=space, **({to: options} if fmt.options else {})
            )
            if space is not None:
                card["space_default"] = requested is None
            if fmt.streamed:
                stream_part(
                    loaded, fmt, tmp, dim, card, batch_size, device, group.rank, group.world, space
                )
        except BaseException as exc:
            error = exc
        if not group.all_ok(error is None):
            if group.rank == 0:
                discard(tmp, made_parent)
            if error is not None:
                raise error
            raise RunError("export failed on another rank; nothing was written")

        if group.rank == 0:
            try:
                manifest = _finish(
                    loaded, fmt, tmp, dim, card, options, group.world, batch_size, space
                )
                if space is not None:
                    manifest["space"] = space
                    manifest["spaces"] = list(method_spaces(loaded.method))
                    manifest["space_default"] = requested is None
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
                discard(tmp, made_parent)
        if not group.all_ok(error is None):
            if error is not None:
                raise error
            raise RunError("export failed on rank 0; nothing was written")
        if log is not None and group.rank == 0:
            if space is not None and requested is None:
                log(
                    f"exported the default space {space!r} of "
                    f"{', '.join(method_spaces(loaded.method))} (choose one with --space)"
                )
            log(f"exported to {target}")
        return target
    finally:
        restore()


def _finish(
    loaded: Any,
    fmt: ExportFormat,
    tmp: Path,
    dim: int,
    card: dict[str, Any],
    options: dict[str, Any],
    world: int,
    batch_size: int,
    space: str | None = None,
) -> dict[str, Any]:
    """Rank 0, after every part is written: the format's last step and the manifest."""
    manifest: dict[str, Any] = {
        "format": fmt.name,
        "embedding_dim": dim,
        "world_size": world,
        "created": card["created"],
    }
    parts: list[dict[str, Any]] = []
    if fmt.streamed:
        parts = read_parts(tmp, world)
        manifest["rows"] = sum(p["rows"] for p in parts)
        card["metrics"]["exported_embeddings"] = sample_stats(tmp, world, loaded.config.train.seed)
        manifest["rows_fingerprint"] = parts_fingerprint(parts)
        manifest["order"] = (
            "rows in the order of the data"
            if world == 1
            else f"batch i of the data is in the part of rank i % {world}"
        )
    done = finish(fmt, Finishing(loaded, tmp, dim, parts, options, batch_size, space))
    if done is not None:
        card[fmt.name], manifest["files"] = done
    if fmt.streamed:
        manifest["parts"] = (
            parts
            if fmt.keeps_parts
            else [{k: v for k, v in p.items() if k != "files"} for p in parts]
        )
    manifest["files"] = {**manifest.get("files", {}), "card": "model_card.json"}
    return manifest
