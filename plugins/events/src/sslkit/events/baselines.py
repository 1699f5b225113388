"""What an event log gives without pretraining: hand-crafted aggregates of each entity's events
(counts, sums, means, ...; the default task's baseline, as pytorch-lifestream reports it).

Scored by core beside the embeddings (``sslkit.core.evaluate.payoff``) with the probe and with
gradient boosting."""

from __future__ import annotations

from typing import Any

from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.events.data.chunks import signed_log
from sslkit.events.tasks import _align, aggregate_features


def aggregates(ctx: Any, split: str) -> Embeddings:
    """The split's per-entity aggregates (signed-log squashed, as the ``entity`` task feeds its
    probe), rows in the order of ``ctx.embeddings(split)``."""
    ids, X, _ = aggregate_features(ctx.data, split)
    return _align(ctx.embeddings(split), ids, signed_log(X))
