"""Embedding export for production systems: Parquet, NumPy, FAISS, ONNX, safetensors.

``sslkit.core.api.export`` (and ``sslkit export``) drive :func:`run.export_run`; the formats
are the registry :data:`formats.FORMATS`;
:func:`read.load_embeddings` / :func:`read.iter_embeddings` read an export back.
:func:`load_encoder` builds the encoder of a safetensors export from its folder alone.
"""

from typing import Any

__all__ = ["load_encoder"]


def __getattr__(name: str) -> Any:
    # lazy: the CLI imports the (torch-free) format registry from this package
    if name == "load_encoder":
        from sslkit.core.export.encoder import load_encoder

        return load_encoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
