"""Data, method and task of the digits reference plugin (see ``sslkit.testing.digits``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.engine.method import Method
from sslkit.core.errors import DataError
from sslkit.core.nn import records_init


class DigitsDomain(DomainData):
    def __init__(
        self, x: np.ndarray, y: np.ndarray | None, test_fraction: float, state: dict | None
    ):
        if state is None:
            state = {"mean": x.mean(0).tolist(), "std": (x.std(0) + 1e-6).tolist()}
        self._state = state
        self.x = ((x - np.asarray(state["mean"])) / np.asarray(state["std"])).astype(np.float32)
        self.y = y
        n_test = int(len(x) * test_fraction)
        order = np.random.default_rng(0).permutation(len(x))
        self.index = {"train": np.sort(order[n_test:]), "test": np.sort(order[:n_test])}
        self.info = {"features": int(x.shape[1])}

    def train_dataset(self):
        return torch.utils.data.TensorDataset(torch.from_numpy(self.x[self.index["train"]]))

    def collate(self, items):
        return torch.stack([item[0] for item in items])

    def split_names(self) -> list[str]:
        return ["train", "test"]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        idx = self.index[split]
        for start in range(0, len(idx), batch_size):
            rows = idx[start : start + batch_size]
            yield EvalBatch(
                rows, torch.from_numpy(self.x[rows]), None if self.y is None else self.y[rows]
            )

    def has_labels(self) -> bool:
        return self.y is not None

    def state(self) -> dict:
        return self._state


def load_data(config: Any, state: dict | None = None) -> DigitsDomain:
    if config.path:
        path = Path(config.path)
        if not path.is_file():
            raise DataError("file not found", path=path, hint="pass a .npz with arrays x and y")
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz:
                raise DataError(
                    "no array 'x' in the file", path=path, hint="save features as x=..."
                )
            x, y = npz["x"].astype(np.float64), (npz["y"] if "y" in npz else None)
    else:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
    if x.ndim != 2 or x.shape[1] != 64:
        raise DataError(f"x has shape {x.shape}, expected (rows, 64)", path=config.path or None)
    if config.max_rows:
        x, y = x[: config.max_rows], (None if y is None else y[: config.max_rows])
    return DigitsDomain(x, y, config.test_fraction, state)


class DigitsViews:
    """The views of one example, made in the DataLoader workers (``Method.train_transform``):
    ``(x,) -> (views,)`` with ``views`` of shape ``(n_views, features)``, each ``x`` with
    pixels dropped with probability ``dropout`` and Gaussian noise of std ``noise`` added, drawn
    from the engine's per-example ``rng``. Holds only these numbers: a few hundred bytes
    pickled, whatever the model's size."""

    def __init__(self, noise: float, dropout: float, n_views: int = 2):
        self.noise, self.dropout, self.n_views = float(noise), float(dropout), int(n_views)

    def __call__(self, example: tuple[torch.Tensor, ...], rng: torch.Generator):
        x = example[0]
        shape = (self.n_views, *x.shape)
        keep = (torch.rand(shape, generator=rng) >= self.dropout).to(x.dtype)
        noise = torch.randn(shape, generator=rng, dtype=x.dtype)
        return (x * keep + self.noise * noise,)

    def __repr__(self) -> str:
        return f"DigitsViews(noise={self.noise}, dropout={self.dropout}, n_views={self.n_views})"


@records_init
class DigitsEncoder(nn.Sequential):
    """The encoder: ``Linear -> ReLU -> Linear``, features to ``embed_dim``. Its ``__init__``
    arguments are its spec (:func:`sslkit.core.nn.records_init`): an export rebuilds it from
    the model card alone."""

    def __init__(self, features: int, hidden_dim: int, embed_dim: int):
        super().__init__(
            nn.Linear(features, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, embed_dim)
        )


class DigitsSimCLR(Method):
    """SimCLR (Chen et al. 2020): two noisy views, MLP encoder, projector, NT-Xent. It declares
    its encoder (``embedder``); ``embed`` and ``encoder_spec`` follow from it.

    The views are made per example in the DataLoader workers (:class:`DigitsViews`, returned by
    ``train_transform``): ``training_step`` gets batches of shape ``(batch, 2, features)``."""

    matryoshka = True  # its loss goes through Method.nested: core trains method.matryoshka_dims

    def __init__(self, cfg: Any, features: int):
        super().__init__()
        from sslkit.core.objectives import InfoNCE

        self.cfg = cfg
        self.embed_dim = cfg.embed_dim
        self.encoder = DigitsEncoder(features, cfg.hidden_dim, cfg.embed_dim)
        # a head reading the embedding: one per Matryoshka size when core sets sizes
        self.projector = self.nested_heads(lambda m: nn.Sequential(nn.ReLU(), nn.Linear(m, m)))
        self.loss = InfoNCE(temperature=cfg.temperature)

    def train_transform(self) -> DigitsViews:
        return DigitsViews(self.cfg.noise, self.cfg.dropout)

    def training_step(self, batch: torch.Tensor, step: int):
        if batch.dim() != 3:
            raise ValueError(
                f"DigitsSimCLR takes views of shape (batch, views, features), got "
                f"{tuple(batch.shape)}: train through the engine, or wrap the data set with "
                "sslkit.core.engine.views.with_views(dataset, method.train_transform(), seed)"
            )
        b, v, f = batch.shape
        h = self.encoder(batch.reshape(b * v, f)).reshape(b, v, -1)
        return {"loss": self.nested(h, lambda h_m, m: self.loss(self.projector.at(m)(h_m)))}

    def embedder(self, space: str | None = None) -> nn.Module:
        return self.encoder


def build_simclr(cfg: Any, data: DigitsDomain) -> DigitsSimCLR:
    return DigitsSimCLR(cfg, data.info["features"])


def knn_task(ctx: Any) -> dict[str, float]:
    from sklearn.neighbors import KNeighborsClassifier

    train, test = ctx.embeddings("train"), ctx.embeddings("test")
    clf = KNeighborsClassifier(n_neighbors=5, metric="cosine").fit(train.X, train.y)
    return {"accuracy": float((clf.predict(test.X) == test.y).mean())}
