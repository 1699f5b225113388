"""The molecule encoder: Hu et al.'s GIN with edge features (snap-stanford/pretrain-gnns
``chem/model.py``: ``GINConv``, ``GNN``), read out per molecule.

- :class:`EdgeGINConv`: self-loops added with the featuriser's self-loop bond (type 4 for
  Hu's features), message ``h_j + sum_k BondEmb_k(e_ji)`` (no activation), sum aggregation,
  then ``MLP = Linear(d, 2d), ReLU, Linear(2d, d)``. Bond embeddings start Xavier-uniform.
- :class:`MoleculeGNN`: atom embedding ``sum_k AtomEmb_k(x_ik)`` (Xavier-uniform), then
  ``num_layers`` convolutions, each followed by BatchNorm, ReLU (none after the last layer) and
  dropout; JK ``last`` or ``concat`` (the input embedding and every layer).
- :class:`MoleculeEmbedder`: the GNN's atom representations pooled per molecule (mean by
  default), optionally through a linear layer (MolCLR's ``feat_lin``). Its inputs are the dict
  of :func:`sslkit.molecules.data.batch_inputs`; it is what a run exports.

Why not the graphs plugin's ``GNNEncoder(kind="gine")``: PyG's ``GINEConv`` applies a ReLU to
each message, adds ``(1 + eps) x_i`` and has no self-loop bond type, a different layer from
Hu et al.'s; and a dependency on ``sslkit-graphs`` would put a second plugin into this
plugin's isolation environment. Message passing is written with ``index_add`` (not PyG's
``MessagePassing``) so that the encoder traces to ONNX with dynamic atom and molecule counts.

On CPU, outside tracing and autocast (``sslkit.core.nn.csr_fast_path``), the same sum is
computed another way (:class:`FastAggregation`):
``sum_j (h_j + b(e_ji)) = (A + I) h + sum_k C_k T_k`` with ``A + I`` a CSR adjacency (sparse
matrix product) and ``C_k`` each atom's count of incoming bonds per value of bond column ``k``
(``T_k`` its embedding table), built once per batch for all layers: no per-edge gather of
300-wide rows, no per-edge bond embedding.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.core.nn import csr_fast_path, records_init, sparse_mm
from sslkit.core.nn.tracing import tracing
from sslkit.molecules.configs import EncoderOptions

__all__ = ["EdgeGINConv", "EncoderOptions", "MoleculeEmbedder", "MoleculeGNN", "build_encoder"]


class CategoricalEmbedding(nn.Module):
    """``sum_k Embedding_k(x[:, k])`` over integer feature columns (OGB's AtomEncoder and
    BondEncoder; Hu et al.'s two embeddings added), Xavier-uniform as Hu et al."""

    def __init__(self, vocab: Sequence[int], dim: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(int(v), dim) for v in vocab)
        for t in self.tables:
            nn.init.xavier_uniform_(t.weight)

    def forward(self, x: Tensor) -> Tensor:
        out = self.tables[0](x[:, 0])
        for k in range(1, len(self.tables)):
            out = out + self.tables[k](x[:, k])
        return out


class FastAggregation:
    """A batch's adjacency with self-loops as a CSR matrix and, per bond column ``k``, the
    ``(atoms, vocab_k)`` counts of each atom's incoming bonds (self-loop included) per value:
    what :meth:`EdgeGINConv.forward` needs to sum messages with two matrix products."""

    def __init__(self, n: int, edge_index: Tensor, edge_attr: Tensor, conv: EdgeGINConv):
        loops = torch.arange(n, device=edge_index.device)
        dst = torch.cat([edge_index[1], loops])
        src = torch.cat([edge_index[0], loops])
        attr = torch.cat([edge_attr, conv.self_loop.expand(n, -1)])
        order = torch.argsort(dst * n + src)
        crow = torch.zeros(n + 1, dtype=torch.long, device=dst.device)
        crow[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
        ones = torch.ones(dst.numel(), device=dst.device)
        with warnings.catch_warnings():  # "sparse CSR tensor support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            self.adj = torch.sparse_csr_tensor(crow, src[order], ones, (n, n))
        self.counts = [
            torch.zeros(n, t.num_embeddings, device=dst.device).index_put_(
                (dst, attr[:, k]), ones, accumulate=True
            )
            for k, t in enumerate(conv.bond.tables)
        ]

    @staticmethod
    def usable(x: Tensor) -> bool:
        return csr_fast_path(x)


class EdgeGINConv(nn.Module):
    """Hu et al.'s ``GINConv`` (see the module's docstring). ``fast``: a
    :class:`FastAggregation` of the batch (CPU), the same sum by sparse and dense products."""

    def __init__(
        self, dim: int, bond_vocab: Sequence[int], self_loop: Sequence[int], out_dim: int = 0
    ):
        super().__init__()
        out = int(out_dim) or dim  # GraphMAE's decoder layer: Linear(2d, out_dim) last
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, out))
        self.bond = CategoricalEmbedding(bond_vocab, dim)
        self.register_buffer(
            "self_loop", torch.tensor([list(self_loop)], dtype=torch.long), persistent=False
        )

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, fast: FastAggregation | None = None
    ) -> Tensor:
        if fast is not None:
            total = sparse_mm(fast.adj, x)
            for counts, table in zip(fast.counts, self.bond.tables):
                total = total + (counts @ table.weight).to(x.dtype)
            return self.mlp(total)
        n = x.size(0)
        loops = torch.arange(n, device=x.device)
        src = torch.cat([edge_index[0], loops])
        dst = torch.cat([edge_index[1], loops])
        attr = torch.cat([edge_attr, self.self_loop.expand(n, -1)])
        messages = x.index_select(0, src) + self.bond(attr)
        # under autocast x is bf16 and the bond embeddings fp32: sum in the messages' dtype
        total = messages.new_zeros((n, messages.size(1))).index_add(0, dst, messages)
        return self.mlp(total)


@records_init
class MoleculeGNN(nn.Module):
    """Hu et al.'s ``GNN`` (gin): atom representations of a batch of molecules."""

    def __init__(
        self,
        atom_vocab: Sequence[int],
        bond_vocab: Sequence[int],
        self_loop: Sequence[int],
        hidden_dim: int = 300,
        num_layers: int = 5,
        dropout: float = 0.0,
        jk: str = "last",
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError("num_layers must be at least 1")
        if jk not in ("last", "concat"):
            raise ValueError(f"jk is 'last' or 'concat', not {jk!r}")
        self.dropout, self.jk, self.num_layers = float(dropout), jk, int(num_layers)
        self.atom = CategoricalEmbedding(atom_vocab, hidden_dim)
        self.convs = nn.ModuleList(
            EdgeGINConv(hidden_dim, bond_vocab, self_loop) for _ in range(num_layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_dim) for _ in range(num_layers))
        self.out_dim = hidden_dim * (num_layers + 1 if jk == "concat" else 1)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        h = self.atom(x)
        hidden = [h]
        fast = None
        if FastAggregation.usable(h):
            fast = FastAggregation(h.size(0), edge_index, edge_attr, self.convs[0])
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv(h, edge_index, edge_attr, fast))
            if i < self.num_layers - 1:
                h = F.relu(h)
            h = dropout(h, self.dropout, self.training)
            hidden.append(h)
        return torch.cat(hidden, dim=1) if self.jk == "concat" else h


def dropout(h: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout``, with the mask drawn by ``rand_like`` on CPU: torch's CPU ``bernoulli_``
    cost 4 ms for a batch's 768 x 300 atoms, a tenth of a fine-tuning step (``rand_like``:
    1.8 ms)."""
    if not training or p <= 0.0 or h.device.type != "cpu" or tracing():
        return F.dropout(h, p, training)
    if p >= 1.0:
        return torch.zeros_like(h)
    return h * (torch.rand_like(h) >= p).to(h.dtype) * (1.0 / (1.0 - p))


def pool(h: Tensor, batch: Tensor, atoms: Tensor, how: str = "mean") -> Tensor:
    """One row per molecule (``atoms``: atom count of each, so its length is the number of
    molecules) of atom representations ``h`` (``batch``: the molecule of each atom)."""
    size = (atoms.size(0), h.size(1))
    if how == "max":
        index = batch.unsqueeze(1).expand(-1, h.size(1))
        empty = torch.full(size, float("-inf"), dtype=h.dtype, device=h.device)
        out = empty.scatter_reduce(0, index, h, reduce="amax", include_self=True)
        return torch.where(torch.isinf(out), torch.zeros_like(out), out)
    total = torch.zeros(size, dtype=h.dtype, device=h.device).index_add(0, batch, h)
    if how == "sum":
        return total
    return total / atoms.clamp(min=1).unsqueeze(1).to(h.dtype)


@records_init
class MoleculeEmbedder(nn.Module):
    """A molecule's embedding: :class:`MoleculeGNN` atoms (``gnn``: its keyword arguments)
    pooled (``pooling``), then a linear layer to ``out_dim`` when it is > 0 (MolCLR's feature
    layer). ``forward(inputs)`` takes the dict of :func:`sslkit.molecules.data.batch_inputs`."""

    def __init__(self, pooling: str = "mean", out_dim: int = 0, **gnn: Any):
        super().__init__()
        if pooling not in ("mean", "sum", "max"):
            raise ValueError(f"pooling is mean, sum or max, not {pooling!r}")
        self.gnn = MoleculeGNN(**gnn)
        self.pooling = pooling
        self.lin = nn.Linear(self.gnn.out_dim, out_dim) if out_dim > 0 else None
        self.out_dim = out_dim if out_dim > 0 else self.gnn.out_dim

    def atoms(self, inputs: Any) -> Tensor:
        """Atom representations of the inputs' molecules (a dict or a PyG batch)."""
        get = inputs.get if isinstance(inputs, dict) else (lambda k: getattr(inputs, k))
        return self.gnn(get("x"), get("edge_index"), get("edge_attr"))

    def read_out(self, h: Tensor, inputs: Any) -> Tensor:
        """The molecule embeddings of atom representations ``h``."""
        if isinstance(inputs, dict):
            batch, atoms = inputs["batch"], inputs["atoms"]
        else:  # a PyG Batch
            batch = inputs.batch
            atoms = torch.bincount(batch, minlength=int(inputs.num_graphs))
        z = pool(h, batch, atoms, self.pooling)
        return self.lin(z) if self.lin is not None else z

    def forward(self, inputs: Any) -> Tensor:
        return self.read_out(self.atoms(inputs), inputs)


def gnn_options(cfg: Any, info: dict[str, Any], num_layers: int = 0) -> dict[str, Any]:
    """The :class:`MoleculeGNN` keyword arguments of ``cfg`` (an :class:`EncoderOptions`) for
    data of ``info`` (the featuriser's vocabularies and self-loop bond, from
    ``MoleculeSet.info``); ``num_layers`` > 0 replaces ``cfg.num_layers``."""
    return {
        "atom_vocab": list(info["atom_vocab"]),
        "bond_vocab": list(info["bond_vocab"]),
        "self_loop": list(info["self_loop"]),
        "hidden_dim": int(cfg.hidden_dim),
        "num_layers": int(num_layers or cfg.num_layers),
        "dropout": float(cfg.dropout),
        "jk": str(cfg.jk),
    }


def build_encoder(cfg: Any, info: dict[str, Any], out_dim: int = 0) -> MoleculeEmbedder:
    """The :class:`MoleculeEmbedder` that ``cfg`` (an :class:`EncoderOptions`) describes for
    data of ``info`` (see :func:`gnn_options`); ``out_dim`` > 0 adds a linear layer after
    pooling."""
    return MoleculeEmbedder(
        pooling=str(cfg.pooling), out_dim=int(out_dim), **gnn_options(cfg, info)
    )
