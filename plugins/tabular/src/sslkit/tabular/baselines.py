"""What a table gives without pretraining: its raw columns (the default task's baseline).

Scored by core beside the embeddings (``sslkit.core.evaluate.payoff``) with the probe and with
gradient boosting, the field's plain baseline on tables."""

from __future__ import annotations

from typing import Any

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.tabular.tasks import raw_features


def raw_columns(ctx: Any, split: str) -> Embeddings:
    """The split's rows as the encoder reads them, before any learned weight: scaled numeric
    values and one-hot categories, in the order of ``ctx.embeddings(split)``."""
    X, _ = raw_features(ctx, split)
    emb = ctx.embeddings(split)
    return Embeddings(emb.ids, X, emb.y)
