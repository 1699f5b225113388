"""Two-tower retrieval with self-supervision (Yao et al., "Self-supervised Learning for
Large-scale Item Recommendations", CIKM 2021), on the sampling-bias-corrected two-tower model
(Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations",
RecSys 2019).

- Towers (:mod:`sslkit.recsys.towers`): users and items each embedded from their id and their
  feature table (categorical, numeric as quantile buckets, multi-valued, short text), an MLP,
  L2-normalised outputs (cosine scores).
- Main task: in-batch softmax over the batch's items with the logQ correction,
  ``s(u_i, v_j) / tau - log q_j`` with ``q_j`` the item's frequency among the training
  interactions (the probability that it appears in a batch); repeats of the positive item in
  the batch are not counted as its negatives. Under DDP the items of every rank are the
  candidates.
- SSL task (``ssl_weight`` alpha): items drawn uniformly from the training catalogue (the
  paper's heterogeneous sample distribution: the main task sees the power-law stream, the SSL
  task the whole catalogue), two views by correlated feature masking (a seed feature drawn per
  item and the features of highest mutual information with it masked in one view, the rest in
  the other; ``masking = random`` for the paper's RFM baseline) and dropout of single values of
  multi-valued features, encoded by the shared item tower; InfoNCE with the other view's items
  as negatives (temperature ``ssl_temperature``).
- The user tower also reads the user's last ``history`` training items (a multi-valued
  feature, as the query towers of Yi et al. read watch history); in a training step the item
  to predict is left out of it.
- Cold-start items (``data.cold_items``) have no trained id (the pad token): they are scored
  from their features alone.

With the id as the only feature (Gowalla) the views cannot split features and the SSL task is
left out (``ssl_active`` False), as in the paper, whose augmentations work on item features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.engine.method import Method
from sslkit.recsys.augment import correlated_groups, feature_mutual_information, masking_views
from sslkit.recsys.encoders import EmbeddingTable
from sslkit.recsys.methods.base import SPACES, cross_view_infonce, space_name
from sslkit.recsys.methods.selection import KeepsBest
from sslkit.recsys.towers import Tower, TowerEmbedder, history_tokens, tower_sizes

MI_ROWS = 20_000


def logq_softmax_loss(u: torch.Tensor, v: torch.Tensor, items: torch.Tensor,
                      log_q: torch.Tensor, temperature: float) -> torch.Tensor:  # fmt: skip
    """In-batch softmax with the logQ correction (Yi et al. 2019, eq. 3-4): row ``i`` of
    ``u`` has its positive in row ``i`` of ``v`` (item ``items[i]``); logits ``cos(u_i, v_j) /
    temperature - log_q[items[j]]``, the columns ``j != i`` holding the same item as ``i``
    left out; the mean cross-entropy. Under DDP ``v`` and ``items`` of every rank."""
    u, v = F.normalize(u.float(), dim=-1), F.normalize(v.float(), dim=-1)
    keys, start = D.gather_with_offset(v)
    all_items, _ = D.gather_with_offset(items)
    logits = u @ keys.T / temperature - log_q[all_items].float()[None, :]
    target = start + torch.arange(u.shape[0], device=u.device)
    same = items[:, None] == all_items[None, :]
    same[torch.arange(u.shape[0], device=u.device), target] = False
    logits = logits.masked_fill(same, float("-inf"))
    return D.globalize_loss(F.cross_entropy(logits, target), u.shape[0])


class TwoTower(KeepsBest, Method):
    spaces = SPACES
    matryoshka = True

    def __init__(self, cfg: Any, data: Any):
        super().__init__()
        self.cfg = cfg
        self.embed_dim = int(cfg.embed_dim)
        n_users, n_items = data.n["user"], data.n["item"]
        self.warm = int(data.warm_items)
        common = {"feature_dim": int(cfg.feature_dim), "hidden": int(cfg.hidden),
                  "dim": self.embed_dim}  # fmt: skip
        self._sizes: dict[str, dict] = {}
        towers = {}
        fit_u, fit_i = data.rows("fit")
        hist = history_tokens(fit_u, fit_i, n_users, int(cfg.history)) if cfg.history else None
        for space, rows, known in (("user", n_users, n_users), ("item", n_items, self.warm)):
            extra = (hist, self.warm + 1) if space == "user" else (None, 0)
            tokens, sizes = tower_sizes(rows, data.features.get(space), known, *extra)
            self._sizes[space] = {**sizes, **common}
            towers[space] = Tower(**self._sizes[space])
            towers[space].set_tokens(tokens)
        self.user_tower, self.item_tower = towers["user"], towers["item"]
        self.history_feature = self.user_tower.features - 1 if hist is not None else -1
        freq = np.bincount(fit_i, minlength=n_items) / max(1, len(fit_i))
        self.register_buffer("log_q", torch.from_numpy(np.log(np.maximum(freq, 1e-12))).float())
        features = self.item_tower.features
        self.ssl_active = features >= 2 and float(cfg.ssl_weight) > 0
        groups = torch.zeros(features, features, dtype=torch.long)
        if self.ssl_active and cfg.masking == "correlated":
            item_tokens = [getattr(self.item_tower, f"tokens{f}")[: self.warm].numpy()
                           for f in range(features)]  # fmt: skip
            groups = correlated_groups(feature_mutual_information(item_tokens, MI_ROWS))
        self.register_buffer("groups", groups)
        self.init_selection(data)
        self.__dict__["_embedders"] = {}

    # -- selection, spaces, export -------------------------------------------------------------
    def kept(self) -> dict[str, torch.Tensor]:
        return {n: p for n, p in self.named_parameters()}

    def tower(self, space: str) -> Tower:
        return self.user_tower if space == "user" else self.item_tower

    @torch.no_grad()
    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(self._table(self.tower(s)) for s in SPACES)  # type: ignore[return-value]

    @staticmethod
    def _table(tower: Tower, batch: int = 8192) -> torch.Tensor:
        device = tower.tokens0.device
        return torch.cat([tower(torch.arange(a, min(a + batch, tower.rows), device=device))
                          for a in range(0, tower.rows, batch)])  # fmt: skip

    _space = staticmethod(space_name)

    def embedder(self, space: str | None = None) -> nn.Module:
        space = self._space(space)
        if space not in self._embedders:
            self._embedders[space] = TowerEmbedder(**self._sizes[space], space=space,
                                                   tower=self.tower(space))  # fmt: skip
        return self._embedders[space]

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        space = self._space(space)
        return {"build": "sslkit.recsys.towers:TowerEmbedder",
                "kwargs": {**self._sizes[space], "space": space}}  # fmt: skip

    def export_module(self, space: str | None = None) -> nn.Module:
        with torch.no_grad():
            return EmbeddingTable(self._table(self.tower(self._space(space))))

    # -- training ------------------------------------------------------------------------------
    def ssl_items(self, n: int, device: torch.device) -> torch.Tensor:
        """``n`` items drawn uniformly from the training catalogue (repeats dropped)."""
        return torch.unique(torch.randint(0, self.warm, (n,), device=device))

    def training_step(self, batch, step: int):
        cfg = self.cfg
        users, items = batch["user"], batch["item"]
        # the history feature without the item to predict (else the tower learns to look it up)
        exclude = (self.history_feature, items + 1) if self.history_feature >= 0 else None
        u, v = self.user_tower(users, exclude=exclude), self.item_tower(items)
        z: tuple = (u, v)
        if self.ssl_active:
            ssl = self.ssl_items(int(cfg.ssl_batch) or len(items), u.device)
            groups = self.groups if cfg.masking == "correlated" else None
            keep1, keep2 = masking_views(len(ssl), self.item_tower.features, groups, u.device)
            z = (u, v, self.item_tower(ssl, keep1, cfg.value_dropout),
                 self.item_tower(ssl, keep2, cfg.value_dropout))  # fmt: skip
        log_q = self.log_q if cfg.logq else torch.zeros_like(self.log_q)

        def loss_of(z, m):
            main = logq_softmax_loss(z[0], z[1], items, log_q, cfg.temperature)
            if len(z) == 2:
                return {"loss": main, "main": main}
            self_sup = cross_view_infonce(z[2], z[3], cfg.ssl_temperature)
            return {"loss": main + cfg.ssl_weight * self_sup, "main": main, "ssl": self_sup}

        out = self.nested(z, loss_of)
        return {"loss": out["loss"], **self.logs(**{k: v for k, v in out.items() if k != "loss"})}


def build(cfg: Any, data: Any) -> TwoTower:
    return TwoTower(cfg, data)
