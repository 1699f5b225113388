"""The towers of the two-tower model (Yao et al. 2021; Yi et al. 2019): one per space, each
embedding the rows of its space from their features and id.

A tower holds its space's token matrices as buffers (an id feature first, then the feature
table's columns, see :mod:`sslkit.recsys.data.features`; the user tower last holds the user's
training items, the history feature of YouTube's and Yi et al.'s query towers), so an export rebuilds it from
``model_card.json`` alone. Each feature is the mean of its tokens' embeddings (``0`` pads: a
missing value, a cold-start item's id, a masked feature give a zero vector); the features'
vectors are concatenated and go through an MLP (``hidden`` units, ReLU) to ``dim`` outputs,
L2-normalised: users and items are scored by cosine, their inner product.

``keep`` (``(rows, features)``, 0/1) masks whole features (the correlated feature masking of
the SSL task); ``value_dropout`` drops single tokens of multi-valued and text features.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.nn import records_init


@records_init
class Tower(nn.Module):
    """``forward(rows, keep=None, value_dropout=0.0)``: ``(len(rows), dim)`` unit vectors.

    ``lengths[f]`` and ``vocab[f]``: the width of feature ``f``'s token matrix and its number of
    embedding rows; ``multi[f]``: 1 for multi-valued and text features (token dropout)."""

    def __init__(self, rows: int, lengths: list[int], vocab: list[int], multi: list[int],
                 feature_dim: int, hidden: int, dim: int):  # fmt: skip
        super().__init__()
        self.rows, self.dim = int(rows), int(dim)
        self.multi = [bool(m) for m in multi]
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(v), feature_dim, padding_idx=0) for v in vocab
        )
        for e in self.embeddings:
            nn.init.normal_(e.weight, std=0.1)
            with torch.no_grad():
                e.weight[0].zero_()
        for f, n in enumerate(lengths):
            self.register_buffer(f"tokens{f}", torch.zeros(self.rows, int(n), dtype=torch.long))
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim * len(vocab), hidden), nn.ReLU(), nn.Linear(hidden, dim)
        )

    @property
    def features(self) -> int:
        return len(self.embeddings)

    def set_tokens(self, tokens: list) -> None:
        for f, t in enumerate(tokens):
            getattr(self, f"tokens{f}").copy_(torch.as_tensor(t))

    def feature_vectors(self, rows: torch.Tensor, value_dropout: float = 0.0,
                        exclude: tuple[int, torch.Tensor] | None = None) -> list[torch.Tensor]:  # fmt: skip
        out = []
        for f, emb in enumerate(self.embeddings):
            tok = getattr(self, f"tokens{f}")[rows]
            present = (tok > 0).to(emb.weight.dtype)
            if exclude is not None and exclude[0] == f:
                present = present * (tok != exclude[1][:, None])
            if value_dropout > 0 and self.multi[f]:
                present = present * (torch.rand_like(present) >= value_dropout)
            total = (emb(tok) * present.unsqueeze(-1)).sum(1)
            out.append(total / present.sum(1, keepdim=True).clamp_min(1.0))
        return out

    def forward(self, rows: torch.Tensor, keep: torch.Tensor | None = None,
                value_dropout: float = 0.0,
                exclude: tuple[int, torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """``exclude = (f, tokens)``: row ``i`` leaves token ``tokens[i]`` of feature ``f`` out
        (a user's history without the item it is trained to predict)."""
        vectors = self.feature_vectors(rows.long(), value_dropout, exclude)
        if keep is not None:
            vectors = [v * keep[:, f : f + 1].to(v.dtype) for f, v in enumerate(vectors)]
        return F.normalize(self.mlp(torch.cat(vectors, -1)), dim=-1)


def history_tokens(users: np.ndarray, items: np.ndarray, n_users: int, cap: int) -> np.ndarray:
    """``(n_users, <= cap)``: each user's last ``cap`` training items (in the order of the
    interactions) as tokens ``item + 1``, ``0`` padding."""
    order = np.argsort(users, kind="stable")
    u, i = users[order], items[order]
    counts = np.bincount(u, minlength=n_users)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(u)) - start[u]
    keep = pos >= counts[u] - cap  # the last cap of each user
    width = max(1, min(cap, int(counts.max()) if len(counts) else 1))
    out = np.zeros((n_users, width), np.int64)
    out[u[keep], (pos - np.maximum(counts[u] - cap, 0))[keep]] = i[keep] + 1
    return out


def tower_sizes(ids: int, table, known: int, history: np.ndarray | None = None,
                history_vocab: int = 0) -> tuple[list, dict]:  # fmt: skip
    """Token matrices and the :class:`Tower` size kwargs of a space with ``ids`` rows, the
    first ``known`` of which have a trained id (the others, cold-start items, get the pad
    token 0 as id), an optional :class:`~sslkit.recsys.data.features.FeatureTable` and, for
    users, the ``history`` of their training items (last feature, ``history_vocab`` rows)."""
    id_tokens = np.zeros((ids, 1), np.int64)
    id_tokens[:known, 0] = np.arange(1, known + 1)
    tokens = [id_tokens, *(table.tokens if table is not None else [])]
    kinds = ["id", *(table.kinds if table is not None else [])]
    vocab = [known + 1, *(table.vocab if table is not None else [])]
    if history is not None:
        tokens, kinds, vocab = [*tokens, history], [*kinds, "multi"], [*vocab, history_vocab]
    sizes = {"rows": ids, "lengths": [int(t.shape[1]) for t in tokens], "vocab": vocab,
             "multi": [int(k in ("multi", "text")) for k in kinds]}  # fmt: skip
    return tokens, sizes


class TowerEmbedder(nn.Module):
    """``Method.embedder(space)`` of the two-tower model: its tower (shared, or built from the
    sizes by :func:`sslkit.core.export.load_encoder`) applied to rows of the space."""

    def __init__(self, rows: int, lengths: list[int], vocab: list[int], multi: list[int],
                 feature_dim: int, hidden: int, dim: int, space: str = "user",
                 tower: Tower | None = None):  # fmt: skip
        super().__init__()
        self.tower = tower or Tower(rows, lengths, vocab, multi, feature_dim, hidden, dim)
        self.space = space

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.tower(rows)
