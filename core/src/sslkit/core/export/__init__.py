"""Embedding export for production systems: Parquet, NumPy, FAISS, ONNX, safetensors.

``sslkit.core.api.export`` (and ``sslkit export``) drive :func:`run.export_run`; the formats
are the registry :data:`formats.FORMATS`;
:func:`read.load_embeddings` / :func:`read.iter_embeddings` read an export back.
"""
