"""The export formats: one :class:`ExportFormat` per ``--to`` value, in :data:`FORMATS`.

``sslkit export --to`` (its choices and help), :func:`sslkit.core.export.request.check_request`
and the formats table of ``docs/export.md`` (checked by a test) all come from this registry.
A format either streams every row's embedding (``parts``: each rank writes its part files
batch by batch, then rank 0's ``finish`` may turn them into something else) or writes from the
trained method alone (``finish`` only).

Light: no torch, numpy or writer is imported here (the CLI builds its help from this module);
the writers are ``"module:attribute"`` references imported when an export runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslkit.core.plugin import Ref, Registry, resolve


@dataclass(frozen=True)
class ExportFormat:
    """One ``--to`` value: what it writes and what it needs."""

    name: str
    summary: str
    """One line for ``sslkit export --help`` and the docs."""
    files: tuple[str, ...]
    """The files of a one-process export, besides ``manifest.json`` and ``model_card.json``."""
    parts: Ref | None = None
    """For a format that needs every row's embedding: ``parts(folder, suffix, dim, card)``
    opens one rank's part writer (``.files``, ``.write(ids, embeddings)``, ``.close()``); every
    rank streams its batches of the data through the encoder into it."""
    finish: Ref | None = None
    """Rank 0's last step, once every part is written: ``finish(Finishing) -> (section,
    files)``; ``section`` goes into the model card under the format's name, ``files`` (role ->
    file name) into the manifest."""
    keeps_parts: bool = True
    """False when ``finish`` consumes the part files (the manifest then names none)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Options only this format takes: their allowed values (a tuple) or ``int`` (>= 0)."""
    requires: tuple[str, ...] = ()
    """Python packages its writers import."""

    @property
    def streamed(self) -> bool:
        """Whether the export embeds the data (every rank streams its share of the rows)."""
        return self.parts is not None


@dataclass
class Finishing:
    """What a format's ``finish`` step gets (on rank 0, after every part is written)."""

    loaded: Any
    """The run (an :class:`sslkit.core.runs.LoadedRun`)."""
    folder: Path
    """The temporary output folder (renamed into place when the export is complete)."""
    dim: int
    parts: list[dict[str, Any]]
    """The streamed parts' manifest entries, rank by rank (empty for a format not streamed)."""
    options: dict[str, Any]
    batch_size: int
    space: str | None = None
    """The embedding space exported (a method with several); None for a one-space method."""


def _faiss(job: Finishing) -> tuple[dict[str, Any], dict[str, str]]:
    from sslkit.core.export.faiss_index import index_parts

    facts = index_parts(job.folder, job.parts, job.options, job.loaded.config.train.seed)
    return facts, facts["files"]


def _onnx(job: Finishing) -> tuple[dict[str, Any], dict[str, str]]:
    from sslkit.core.export.encoder import export_onnx

    loaded = job.loaded
    facts = export_onnx(
        loaded.method,
        loaded.data,
        job.folder,
        job.dim,
        batch_size=min(job.batch_size, 64),
        space=job.space,
    )
    return facts, {"encoder": facts["file"]}


def _safetensors(job: Finishing) -> tuple[dict[str, Any], dict[str, str]]:
    from sslkit.core.export.encoder import export_backbone

    facts = export_backbone(
        job.loaded, job.folder, job.dim, batch_size=min(job.batch_size, 64), space=job.space
    )
    return facts, {"weights": facts["file"]}


FORMATS: Registry[ExportFormat] = Registry(
    "export format",
    [
        ExportFormat(
            "parquet",
            "id + embedding columns; the model card in the schema metadata",
            files=("embeddings.parquet",),
            parts="sslkit.core.export.writers:ParquetPart",
            requires=("pyarrow",),
        ),
        ExportFormat(
            "npy",
            "embeddings.npy (float32) + ids.npy",
            files=("embeddings.npy", "ids.npy"),
            parts="sslkit.core.export.writers:NpyPart",
        ),
        ExportFormat(
            "faiss",
            "a FAISS index of the embeddings + ids.npy",
            files=("index.faiss", "ids.npy"),
            parts="sslkit.core.export.writers:NpyPart",
            finish=_faiss,
            keeps_parts=False,
            options={
                "index": ("flat", "ivf", "hnsw"),
                "metric": ("cosine", "ip"),
                "nlist": int,
                "nprobe": int,
                "hnsw_m": int,
                "ef_search": int,
            },
            requires=("faiss",),
        ),
        ExportFormat(
            "onnx",
            "the encoder as an ONNX graph",
            files=("encoder.onnx",),
            finish=_onnx,
            requires=("onnx", "onnxscript", "onnxruntime"),
        ),
        ExportFormat(
            "safetensors",
            "the encoder's weights (sslkit.core.export.load_encoder rebuilds it)",
            files=("backbone.safetensors",),
            finish=_safetensors,
            requires=("safetensors",),
        ),
    ],
)


def format_names() -> list[str]:
    return list(FORMATS)


def help_text() -> str:
    """``sslkit export --to``'s help: the formats of embeddings, then those of the encoder."""
    rows = [f.name for f in FORMATS.values() if f.streamed]
    model = [f.name for f in FORMATS.values() if not f.streamed]
    return f"Embeddings: {', '.join(rows)}; the encoder: {', '.join(model)}."


def metavar() -> str:
    """``--to``'s choices as click shows them: ``[parquet|npy|...]``."""
    return "[" + "|".join(FORMATS) + "]"


def open_parts(fmt: ExportFormat, folder: Path, suffix: str, dim: int, card: dict[str, Any]):
    """One rank's part writer of a streamed format."""
    assert fmt.parts is not None, f"{fmt.name} is not a streamed format"
    return resolve(fmt.parts)(folder, suffix, dim, card)


def finish(fmt: ExportFormat, job: Finishing) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The format's last step (None when it has none)."""
    return None if fmt.finish is None else resolve(fmt.finish)(job)
