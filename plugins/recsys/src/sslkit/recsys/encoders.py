"""The LightGCN encoder (He et al. 2020) on ``torch.sparse`` CSR, and the per-space embedders.

``LightGCN`` holds the id embeddings of users and items (the "ego" embeddings, the only trained
weights) and the symmetrically normalised adjacency of the training graph as CSR buffers, so
an export rebuilds it from ``model_card.json`` alone (the adjacency travels in the weights).
``propagate`` computes ``E^(k+1) = A_hat E^(k)``; the final embedding is the mean of the layers
``first_layer..L`` (LightGCN: 0..L; SimGCL/XSimGCL, as SELFRec: 1..L). ``noise`` adds
SimGCL's perturbation ``sign(E) * eps * normalize(U(0, 1))`` to every propagated layer.

``SpaceEmbedder`` is what ``Method.embedder(space)`` returns: the encoder (shared) and the rows
of one space. ``EmbeddingTable`` is the traced equivalent for ONNX (a lookup of the final
embeddings: production serves LightGCN embeddings from a table).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from sslkit.core.nn import records_init, sparse_mm
from sslkit.recsys.configs import EncoderOptions, GraphEncoderOptions

# torch warns once a process that CSR support is "in beta"; CSR @ dense is all we use
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

__all__ = ["EmbeddingTable", "EncoderOptions", "LightGCN", "SpaceEmbedder", "build_encoder"]


class _SymmetricSpMM(torch.autograd.Function):
    """``A @ x`` for a symmetric CSR ``A``; its gradient ``A^T g`` is ``A @ g``. Written here
    because torch's CSR backward transposes ``A`` on every call (about 300x slower on CPU)."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return sparse_mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, sparse_mm(ctx.adj, grad.contiguous())


def csr_matmul(crow: torch.Tensor, col: torch.Tensor, value: torch.Tensor, x: torch.Tensor):
    """``A @ x`` for the symmetric CSR matrix ``(crow, col, value)`` (``x.shape[0]`` rows)."""
    n = x.shape[0]
    adj = torch.sparse_csr_tensor(crow, col, value.to(x.dtype), size=(n, n), check_invariants=False)
    return _SymmetricSpMM.apply(adj, x)


def perturb(x: torch.Tensor, eps: float) -> torch.Tensor:
    """SimGCL's noise (Yu et al. 2022, eq. 7): ``x + sign(x) * eps * normalize(U(0, 1))``, the
    noise row-normalised (SELFRec: ``torch.sign(x) * F.normalize(torch.rand_like(x)) * eps``)."""
    noise = nn.functional.normalize(torch.rand_like(x), dim=-1)
    return x + torch.sign(x) * noise * eps


@records_init
class LightGCN(nn.Module):
    """Id embeddings of ``users`` and ``items`` propagated over the normalised graph (buffers
    ``crow``, ``col``, ``value`` of ``edges`` non-zeros; users are rows ``0..users-1``)."""

    def __init__(
        self, users: int, items: int, dim: int, layers: int, edges: int, first_layer: int = 0
    ):
        super().__init__()
        self.users, self.items, self.layers = int(users), int(items), int(layers)
        self.first_layer = int(first_layer)
        self.user = nn.Embedding(self.users, dim)
        self.item = nn.Embedding(self.items, dim)
        # LightGCN's TensorFlow code and SELFRec: Xavier-uniform tables
        nn.init.xavier_uniform_(self.user.weight)
        nn.init.xavier_uniform_(self.item.weight)
        n = self.users + self.items
        self.register_buffer("crow", torch.zeros(n + 1, dtype=torch.long))
        self.register_buffer("col", torch.zeros(int(edges), dtype=torch.long))
        self.register_buffer("value", torch.zeros(int(edges)))
        self._cache: tuple | None = None

    def set_graph(self, crow, col, value) -> None:
        self.crow.copy_(torch.as_tensor(crow))
        self.col.copy_(torch.as_tensor(col))
        self.value.copy_(torch.as_tensor(value))

    def ego(self) -> torch.Tensor:
        return torch.cat([self.user.weight, self.item.weight], 0)

    def layer_outputs(
        self, eps: float = 0.0, crow=None, col=None, value=None
    ) -> list[torch.Tensor]:
        """``[E^(0), ..., E^(L)]``; with ``eps > 0`` each propagated layer gets SimGCL's noise;
        ``crow, col, value``: another graph (SGL's edge-dropout views)."""
        graph = (self.crow, self.col, self.value) if crow is None else (crow, col, value)
        x = self.ego()
        out = [x]
        for _ in range(self.layers):
            x = csr_matmul(*graph, x)
            if eps > 0:
                x = perturb(x, eps)
            out.append(x)
        return out

    def combine(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """The final embedding: the mean of layers ``first_layer..L``."""
        return torch.stack(layers[self.first_layer :], 0).mean(0)

    def propagate(self) -> torch.Tensor:
        """``(users + items, dim)`` final embeddings; cached while the weights do not change
        and no gradient is wanted (evaluation embeds batch after batch of rows)."""
        if self.training or torch.is_grad_enabled():
            return self.combine(self.layer_outputs())
        key = (self.user.weight._version, self.item.weight._version, self.value._version,
               self.user.weight.data_ptr(), self.user.weight.device)  # fmt: skip
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.combine(self.layer_outputs()))
        return self._cache[1]

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[: self.users], x[self.users :]


class SpaceEmbedder(nn.Module):
    """``forward(rows)`` -> the final embeddings of rows of one space (``user`` or ``item``);
    built around the method's own encoder (``encoder=``), or a fresh one from the spec's
    sizes (:func:`sslkit.core.export.load_encoder`)."""

    def __init__(
        self, users: int, items: int, dim: int, layers: int, edges: int, first_layer: int = 0,
        space: str = "user", encoder: LightGCN | None = None,
    ):  # fmt: skip
        super().__init__()
        self.encoder = encoder or LightGCN(users, items, dim, layers, edges, first_layer)
        self.space = space
        self.offset = 0 if space == "user" else int(users)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.encoder.propagate()[rows.long() + self.offset]


class EmbeddingTable(nn.Module):
    """The final embeddings of one space as a table (the module traced for ONNX)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.register_buffer("table", table.detach().clone())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.table[rows.long()]


def build_encoder(options: GraphEncoderOptions, users: int, items: int, edges: int,
                  first_layer: int = 0) -> LightGCN:  # fmt: skip
    """The LightGCN encoder of ``options`` (``embed_dim``, ``num_layers``) for ``users`` x
    ``items`` and a graph of ``edges`` non-zeros (its buffers are set by ``set_graph``)."""
    return LightGCN(users, items, options.embed_dim, options.num_layers, edges, first_layer)
