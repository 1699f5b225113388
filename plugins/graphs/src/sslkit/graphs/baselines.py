"""What a graph gives without pretraining: the raw node features (the default task's baseline,
the input every node-level method starts from).

Scored by core beside the embeddings (``sslkit.core.evaluate.payoff``) with the same probe."""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings


def raw_node_features(ctx: Any, split: str) -> Embeddings:
    """``x`` of the split's nodes, in the order of ``ctx.embeddings(split)``."""
    data = ctx.data
    nodes = data.split_nodes(split).numpy()
    emb = ctx.embeddings(split)
    x = data.graph.x[nodes].float().numpy()
    return Embeddings(emb.ids, np.asarray(x, dtype=np.float32), emb.y)
