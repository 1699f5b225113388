"""What audio gives without pretraining: mean-pooled 39-d MFCCs (13 + deltas + delta-deltas),
the default task's baseline, scored by core beside the embeddings with the same probe."""

from __future__ import annotations

from typing import Any

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.speech.tasks import features


def mfcc(ctx: Any, split: str) -> Embeddings:
    """The split's mean-pooled MFCCs, rows in the order of ``ctx.embeddings(split)``."""
    ref = ctx.embeddings(split)
    return Embeddings(ref.ids, features(ctx, "mfcc")[split][0].astype("float32"), ref.y)
