"""What the graph recommenders share: the LightGCN encoder, BPR with negatives sampled in
tensors, the L2 term, the cross-view InfoNCE of SGL/SimGCL/XSimGCL and the two embedding
spaces; model selection on the validation split is :mod:`sslkit.recsys.methods.selection`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.engine.method import Method
from sslkit.recsys.encoders import EmbeddingTable, SpaceEmbedder, build_encoder
from sslkit.recsys.methods.selection import KeepsBest

SPACES = ("user", "item")


def space_name(space: str | None) -> str:
    """``space`` checked against the two spaces (``None``: ``user``)."""
    space = space or SPACES[0]
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; this method has {', '.join(SPACES)}")
    return space


def bpr_loss(u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """BPR (Rendle et al. 2009): ``mean(-log sigmoid(<u, i+> - <u, i->))``, as softplus."""
    return F.softplus((u * neg).sum(-1) - (u * pos).sum(-1)).mean()


def l2_loss(reg: float, *ego: torch.Tensor) -> torch.Tensor:
    """LightGCN's regulariser: ``reg * sum ||e||^2 / 2 / batch`` over the batch's ego (layer-0)
    embeddings of users, positive and negative items (``tf.nn.l2_loss`` / batch size)."""
    return reg * sum(e.pow(2).sum() for e in ego) / 2 / ego[0].shape[0]


def cross_view_infonce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SGL/SimGCL's InfoNCE: ``mean_i -log( exp(s(a_i, b_i)/t) / sum_j exp(s(a_i, b_j)/t) )``
    with cosine ``s`` and ``j`` over the other view only (SELFRec ``InfoNCE``); written here
    because core's InfoNCE is NT-Xent, whose denominator also holds the same view's rows. Under
    DDP ``b`` is gathered from every rank (autograd-aware), so negatives span the global batch."""
    a, b = F.normalize(a.float(), dim=-1), F.normalize(b.float(), dim=-1)
    keys, start = D.gather_with_offset(b)
    logits = a @ keys.T / temperature
    target = start + torch.arange(a.shape[0], device=a.device)
    return D.globalize_loss(F.cross_entropy(logits, target), a.shape[0])


class GraphRecommender(KeepsBest, Method):
    """A LightGCN encoder with two embedding spaces, ``user`` (default) and ``item``."""

    spaces = SPACES
    matryoshka = True
    first_layer = 0
    """The first layer of the final layer mean (LightGCN: 0, the ego embeddings; SimGCL: 1)."""

    def __init__(self, cfg: Any, data: Any):
        super().__init__()
        self.cfg = cfg
        self.embed_dim = int(cfg.embed_dim)
        self.n_users, self.n_items = int(data.info["users"]), int(data.info["items"])
        crow, col, value = data.graph()
        self.encoder = build_encoder(cfg, self.n_users, self.n_items, len(col), self.first_layer)
        self.encoder.set_graph(crow, col, value)
        fit_u, fit_i = data.rows("fit")
        # sorted user * items + item keys of the training pairs: negatives are rejected on them
        self._positives = torch.from_numpy(np.unique(fit_u * self.n_items + fit_i))
        self.init_selection(data)
        self.__dict__["_embedders"] = {}  # not submodules: the encoder is registered once

    def kept(self) -> dict[str, torch.Tensor]:
        return {"user": self.encoder.user.weight, "item": self.encoder.item.weight}

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.final(self.encoder.layer_outputs())

    # -- spaces, export ------------------------------------------------------------------------
    _space = staticmethod(space_name)

    def embedder(self, space: str | None = None) -> nn.Module:
        space = self._space(space)
        if space not in self._embedders:
            self._embedders[space] = SpaceEmbedder(**self._sizes(), space=space,
                                                   encoder=self.encoder)  # fmt: skip
        return self._embedders[space]

    def _sizes(self) -> dict[str, int]:
        enc = self.encoder
        return {"users": enc.users, "items": enc.items, "dim": self.embed_dim,
                "layers": enc.layers, "edges": int(enc.col.numel()),
                "first_layer": enc.first_layer}  # fmt: skip

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        kwargs = {**self._sizes(), "space": self._space(space)}
        return {"build": "sslkit.recsys.encoders:SpaceEmbedder", "kwargs": kwargs}

    def export_module(self, space: str | None = None) -> nn.Module:
        """A table of the final embeddings of ``space`` (ONNX has no sparse matmul)."""
        space = self._space(space)
        with torch.no_grad():
            users, items = self.encoder.split(self.encoder.combine(self.encoder.layer_outputs()))
        return EmbeddingTable(users if space == "user" else items)

    # -- training pieces -----------------------------------------------------------------------
    def sample_negatives(self, users: torch.Tensor, tries: int = 20) -> torch.Tensor:
        """One item per user drawn uniformly among the items it has no training interaction
        with (LightGCN's sampler), by rejection in tensors: redraw the hits, ``tries`` times."""
        pos = self._positives.to(users.device)
        neg = torch.randint(0, self.n_items, users.shape, device=users.device)
        for _ in range(tries):
            keys = users * self.n_items + neg
            at = torch.searchsorted(pos, keys).clamp_max(len(pos) - 1)
            hit = pos[at] == keys
            if not bool(hit.any()):
                break
            neg[hit] = torch.randint(0, self.n_items, (int(hit.sum()),), device=users.device)
        return neg

    def final(self, layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.split(self.encoder.combine(layers))

    def rec_terms(self, batch: dict[str, torch.Tensor], users, items):
        """(user, positive, negative) final embeddings of the batch and the L2 term."""
        u, p = batch["user"], batch["item"]
        n = self.sample_negatives(u)
        reg = l2_loss(self.cfg.reg, self.encoder.user(u), self.encoder.item(p),
                      self.encoder.item(n))  # fmt: skip
        return (users[u], items[p], items[n]), reg

    @staticmethod
    def batch_views(batch: dict[str, torch.Tensor], a: tuple, b: tuple) -> tuple:
        """``(users a, users b, items a, items b)``: the batch's unique users and items in two
        views ``a`` and ``b``, each a (user table, item table) pair."""
        u, i = torch.unique(batch["user"]), torch.unique(batch["item"])
        return a[0][u], b[0][u], a[1][i], b[1][i]

    def contrastive_step(self, triple: tuple, views: tuple, reg: torch.Tensor) -> dict[str, Any]:
        """``BPR(triple) + cl_weight * (InfoNCE(users a, b) + InfoNCE(items a, b)) + reg`` with
        ``views = (users a, users b, items a, items b)``; Matryoshka sizes apply to all of it."""
        t, w = self.cfg.temperature, self.cfg.cl_weight

        def loss_of(z, m):
            bpr = bpr_loss(*z[:3])
            cl = cross_view_infonce(z[3], z[4], t) + cross_view_infonce(z[5], z[6], t)
            return {"loss": bpr + w * cl, "bpr": bpr, "cl": cl}

        out = self.nested((*triple, *views), loss_of)
        return {"loss": out["loss"] + reg, **self.logs(bpr=out["bpr"], cl=out["cl"], reg=reg)}
