"""Data, method and task of the toy two-tower recommender (see ``sslkit.testing.twotower``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.engine.method import Method

SPACES = ("user", "item")
KS = (5, 10, 20)


def user_ids(rows: np.ndarray) -> np.ndarray:
    return np.asarray([f"user-{r:04d}" for r in rows], dtype=str)


def item_ids(rows: np.ndarray) -> np.ndarray:
    return np.asarray([f"item-{r:04d}" for r in rows], dtype=str)


def interactions(cfg: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (user rows, item rows), "test": ...}``: a block-structured users x items
    interaction set; each user's interactions split ``1 - test_fraction`` / ``test_fraction``
    (at least one train and, from two interactions on, one test interaction per user)."""
    rng = np.random.default_rng(cfg.seed)
    ub = np.arange(cfg.users) % cfg.blocks
    ib = np.arange(cfg.items) % cfg.blocks
    p = np.where(ub[:, None] == ib[None, :], cfg.p_in, cfg.p_out)
    taken = rng.random((cfg.users, cfg.items)) < p
    out: dict[str, list[tuple[int, int]]] = {"train": [], "test": []}
    for u in range(cfg.users):
        items = rng.permutation(np.flatnonzero(taken[u]))
        n_test = max(min(max(round(len(items) * cfg.test_fraction), 1), len(items) - 1), 0)
        out["test"] += [(u, int(i)) for i in items[:n_test]]
        out["train"] += [(u, int(i)) for i in items[n_test:]]
    return {
        k: (np.asarray([a for a, _ in v], np.int64), np.asarray([b for _, b in v], np.int64))
        for k, v in out.items()
    }


class InteractionData(DomainData):
    """Users and items (two spaces) and their train/test interactions."""

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.pairs = interactions(cfg)
        self.n = {"user": int(cfg.users), "item": int(cfg.items)}
        self.info = {"users": int(cfg.users), "items": int(cfg.items)}

    def train_dataset(self):
        users, items = self.pairs["train"]
        return torch.utils.data.TensorDataset(torch.from_numpy(users), torch.from_numpy(items))

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        return {
            "user": torch.stack([u for u, _ in items]),
            "item": torch.stack([i for _, i in items]),
        }

    def split_names(self) -> list[str]:
        return ["train", "test"]

    def _space(self, space: str | None) -> str:
        space = space or SPACES[0]
        if space not in self.n:
            raise ValueError(f"unknown space {space!r}; this data has {', '.join(SPACES)}")
        return space

    def _rows(self, space: str | None, batch_size: int) -> Iterator[EvalBatch]:
        space = self._space(space)
        name = user_ids if space == "user" else item_ids
        for start in range(0, self.n[space], batch_size):
            rows = np.arange(start, min(start + batch_size, self.n[space]))
            yield EvalBatch(name(rows), torch.from_numpy(rows))

    def eval_batches(
        self, split: str, batch_size: int, space: str | None = None
    ) -> Iterator[EvalBatch]:
        """Every user (or item) in every split: the splits differ in their interactions."""
        if split not in self.pairs:
            raise ValueError(f"unknown split {split!r}")
        return self._rows(space, batch_size)

    def export_batches(self, batch_size: int, space: str | None = None) -> Iterator[EvalBatch]:
        return self._rows(space, batch_size)

    def interactions(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        users, items = self.pairs[split]
        return user_ids(users), item_ids(items)


def load_data(config: Any, state: dict | None = None) -> InteractionData:
    return InteractionData(config)


class BPRMF(Method):
    """Matrix factorisation with the BPR loss: ``-log sigmoid(<u, i+> - <u, i->)``, one
    uniformly sampled negative item per training pair. Two spaces: ``user`` (the default) and
    ``item``, each an embedding table; ``embed(rows, space)`` looks rows up."""

    spaces = SPACES

    def __init__(self, cfg: Any, users: int, items: int):
        super().__init__()
        self.embed_dim = int(cfg.embed_dim)
        self.n_items = int(items)
        self.user = nn.Embedding(users, self.embed_dim)
        self.item = nn.Embedding(items, self.embed_dim)
        nn.init.normal_(self.user.weight, std=cfg.init_std)
        nn.init.normal_(self.item.weight, std=cfg.init_std)

    def training_step(self, batch: dict[str, torch.Tensor], step: int = 0):
        u = self.user(batch["user"])
        pos = self.item(batch["item"])
        neg = self.item(torch.randint(0, self.n_items, batch["item"].shape, device=u.device))
        margin = (u * pos).sum(-1) - (u * neg).sum(-1)
        return {"loss": -torch.nn.functional.logsigmoid(margin).mean()}

    def embed(self, inputs: torch.Tensor, space: str | None = None) -> torch.Tensor:
        if space in (None, "user"):
            return self.user(inputs)
        if space == "item":
            return self.item(inputs)
        raise ValueError(f"unknown space {space!r}; this method has {', '.join(SPACES)}")


def build_mf(cfg: Any, data: InteractionData) -> BPRMF:
    return BPRMF(cfg, data.info["users"], data.info["items"])


def recommend_task(ctx: Any) -> dict[str, Any]:
    from sslkit.core.evaluate.recommend import recommendation_task

    return recommendation_task(ctx, users="user", items="item", ks=KS)
