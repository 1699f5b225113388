"""Evaluation on frozen embeddings: linear and kNN probes, RankMe, alignment/uniformity,
label retrieval metrics, recommendation recall/NDCG of two embedding spaces (``recommend``),
the domain plugin's tasks, and the report (JSON, Markdown, PNG plots).

``TaskContext``, ``Embeddings`` and ``embed_split`` are importable from here; they are loaded on
first access, so importing this package does not import torch."""

from __future__ import annotations

from typing import Any

__all__ = ["Embeddings", "TaskContext", "embed_split"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sslkit.core.evaluate import embeddings

        return getattr(embeddings, name)
    raise AttributeError(name)
