"""What the graph methods share: the ``embed`` contract, batch helpers, L2 penalty."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from sslkit.core.engine.method import Method
from sslkit.graphs.encoders import pool_graphs as pool
from sslkit.graphs.inputs import (  # noqa: F401 - re-exported for the methods
    clique_expansion,
    graph_inputs,
    hypergraph_inputs,
    neighbourhood_hyperedges,
    seed_count,
    unwrap,
)


class GraphMethod(Method):
    """Base of the node-level graph methods: ``node_embeddings(x, edge_index)`` is the frozen
    encoder; ``embed`` returns the rows ``inputs["nodes"]`` or, for graph-level inputs (with
    ``batch``), one pooled vector per graph."""

    l2: float = 0.0
    pooling: str = "mean"

    def __init__(self, cfg: Any = None):
        """Keeps the method's config as ``cfg`` and its coupled L2 weight ``cfg.l2`` (0 when
        the config has none) as ``l2``, read by :meth:`l2_penalty`."""
        super().__init__()
        self.cfg = cfg
        self.l2 = float(getattr(cfg, "l2", 0.0))

    def node_embeddings(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The frozen encoder's node embeddings (default: ``self.encoder``'s output)."""
        return self.encoder(x, edge_index)

    def embed(self, inputs: Any) -> Tensor:
        x, ei = graph_inputs(inputs)
        return self.readout(self.node_embeddings(x, ei), inputs)

    def readout(self, h: Tensor, inputs: Any) -> Tensor:
        """The rows ``inputs["nodes"]`` of node embeddings ``h``, or for graph-level inputs
        (with ``batch``) one ``pooling``-pooled vector per graph."""
        if "batch" in inputs:
            return pool(h, inputs["batch"], self.pooling)
        return h[inputs["nodes"]]

    embed_layers: str = "last"
    """What ``embedder()`` reads of the encoder: its output (``last``) or every layer's output
    concatenated (``concat``), as ``node_embeddings`` does."""

    def embedder(self, space: str | None = None) -> Any:
        """The encoder ``embed`` reads, with its readout: a
        :class:`~sslkit.graphs.embedders.GraphEmbedder` around ``self.encoder``."""
        from sslkit.graphs.embedders import GraphEmbedder

        return GraphEmbedder(self.encoder, layers=self.embed_layers, pooling=self.pooling)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        from sslkit.graphs.embedders import graph_embedder_spec

        return graph_embedder_spec(self.embedder(space))

    def l2_penalty(self) -> Tensor | float:
        """``l2 / 2 * ||theta||^2``: the gradient is Adam's coupled ``weight_decay`` of the
        papers' code (the engine's AdamW decay is decoupled, a different regulariser)."""
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * sum(p.pow(2).sum() for p in self.parameters() if p.requires_grad)


class HypergraphMethod(GraphMethod):
    """Base of the hypergraph methods (HypeBoy, TriCL): ``self.encoder`` is a
    :class:`~sslkit.graphs.encoders.HypergraphEncoder`, and ``embed`` reads its node embeddings
    of the hypergraph (a plain graph becomes the hypergraph of its closed neighbourhoods)."""

    def embed(self, inputs: Any) -> Tensor:
        x, hi, m = hypergraph_inputs(inputs)
        return self.readout(self.encoder(x, hi, m), inputs)


def pooled_if_graphs(batch: Any, h: Tensor, how: str = "mean") -> Tensor:
    b = getattr(batch, "batch", None)
    return h if b is None else pool(h, b, how)
