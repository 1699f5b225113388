"""The encoder a graph method declares (``Method.embedder``) and its spec.

:class:`GraphEmbedder` is ``GraphMethod.embed`` as a module of its own: the encoder's node
embeddings of the graph in the inputs (a :class:`~sslkit.graphs.encoders.GNNEncoder`, or a
:class:`~sslkit.graphs.encoders.HypergraphEncoder` on the hypergraph), read out at the rows
``inputs["nodes"]`` or pooled per graph (graph-level inputs, with ``batch``). Both encoders
record the arguments they were built with (:func:`sslkit.core.nn.records_init`), so
:func:`graph_embedder_spec` is plain JSON and :func:`graph_embedder` builds the module again
from the model card of an export alone (``sslkit.core.export.load_encoder``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sslkit.core.nn import recorded_spec
from sslkit.graphs.encoders import GNNEncoder, HypergraphEncoder
from sslkit.graphs.encoders import pool_graphs as pool
from sslkit.graphs.inputs import graph_inputs, hypergraph_inputs


def read_out(h: Tensor, inputs: Any, pooling: str = "mean") -> Tensor:
    """The rows ``inputs["nodes"]`` of node embeddings ``h``, or for graph-level inputs (with
    ``batch``) one ``pooling``-pooled vector per graph."""
    if "batch" in inputs:
        return pool(h, inputs["batch"], pooling)
    return h[inputs["nodes"]]


class GraphEmbedder(nn.Module):
    """``encoder``'s node embeddings of the inputs' graph, read out (:func:`read_out`).

    ``layers = "last"``: the encoder's output; ``"concat"``: every layer's output concatenated
    (GraphCL). A :class:`HypergraphEncoder` reads the hypergraph (a plain graph becomes the
    hypergraph of its closed neighbourhoods), any other encoder ``(x, edge_index)`` (a
    hypergraph clique-expanded), as ``GraphMethod.embed`` does.
    """

    def __init__(self, encoder: nn.Module, *, layers: str = "last", pooling: str = "mean"):
        super().__init__()
        if layers not in ("last", "concat"):
            raise ValueError(f"layers is 'last' or 'concat', not {layers!r}")
        self.encoder = encoder
        self.layers, self.pooling = layers, pooling
        self.training = encoder.training

    def forward(self, inputs: Any) -> Tensor:
        if isinstance(self.encoder, HypergraphEncoder):
            x, hi, m = hypergraph_inputs(inputs)
            return read_out(self.encoder(x, hi, m), inputs, self.pooling)
        x, ei = graph_inputs(inputs)
        if self.layers == "concat":
            h = torch.cat(self.encoder(x, ei, return_hidden=True)[1], dim=1)
        else:
            h = self.encoder(x, ei)
        return read_out(h, inputs, self.pooling)


def graph_embedder(
    encoder: dict[str, Any],
    hypergraph: bool = False,
    layers: str = "last",
    pooling: str = "mean",
) -> GraphEmbedder:
    """A fresh :class:`GraphEmbedder` from the kwargs of :func:`graph_embedder_spec`:
    ``encoder`` holds the arguments of the :class:`GNNEncoder` (``hypergraph``: the
    :class:`HypergraphEncoder`) it wraps."""
    cls = HypergraphEncoder if hypergraph else GNNEncoder
    return GraphEmbedder(cls(**encoder), layers=layers, pooling=pooling)


def graph_embedder_spec(embedder: GraphEmbedder) -> dict[str, Any]:
    """The encoder spec of ``embedder``: its encoder's recorded arguments (input width from the
    data included), the layers it reads and the pooling."""
    spec = recorded_spec(embedder.encoder)
    if spec is None or type(embedder.encoder) not in (GNNEncoder, HypergraphEncoder):
        raise TypeError(
            f"{type(embedder.encoder).__name__} is not a GNNEncoder or a HypergraphEncoder: a "
            "method with another encoder declares its own embedder and encoder_spec"
        )
    return {
        "build": "sslkit.graphs.embedders:graph_embedder",
        "kwargs": {
            "encoder": spec["kwargs"],
            "hypergraph": isinstance(embedder.encoder, HypergraphEncoder),
            "layers": embedder.layers,
            "pooling": embedder.pooling,
        },
    }
