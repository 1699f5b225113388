"""Pieces shared by the tabular methods: feature masks, marginal resampling, Matryoshka sizes,
and the base of the methods that encode whole rows (SCARF, VIME)."""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.engine.method import Method
from sslkit.core.errors import ConfigError
from sslkit.tabular.encoders import build_vector_encoder, vector_encoder_spec


def n_features(info: dict[str, Any]) -> int:
    return int(info["n_num"]) + int(info["n_cat"])


def batch_size_of(inputs: dict[str, torch.Tensor]) -> int:
    return next(iter(inputs.values())).shape[0]


def device_of(inputs: dict[str, torch.Tensor]) -> torch.device:
    return next(iter(inputs.values())).device


def exact_mask(batch: int, features: int, k: int, device: torch.device) -> torch.Tensor:
    """Boolean ``(batch, features)`` with exactly ``k`` True per row, at random positions."""
    ranks = torch.rand(batch, features, device=device).argsort(dim=1).argsort(dim=1)
    return ranks < k


def resample_marginals(
    inputs: dict[str, torch.Tensor], mask: torch.Tensor, n_num: int
) -> dict[str, torch.Tensor]:
    """Replace feature ``j`` of row ``i`` where ``mask[i, j]`` by the value of feature ``j`` in a
    row drawn uniformly from the batch: a draw from that feature's empirical marginal (SCARF,
    VIME). Masked positions come first-numeric, then categorical, as in the batch dict."""
    b = mask.shape[0]
    out = dict(inputs)
    donors = torch.randint(0, b, mask.shape, device=mask.device)
    if "num" in inputs:
        num = inputs["num"]
        drawn = torch.gather(num, 0, donors[:, :n_num])
        out["num"] = torch.where(mask[:, :n_num], drawn, num)
    if "cat" in inputs:
        cat = inputs["cat"]
        drawn = torch.gather(cat, 0, donors[:, n_num:])
        out["cat"] = torch.where(mask[:, n_num:], drawn, cat)
    return out


def check_nested(
    dims: tuple[int, ...], full: int, key: str = "method.matryoshka_dims"
) -> tuple[int, ...]:
    """Sorted Matryoshka sizes, each in ``[1, full]``; the full size is always trained."""
    if not dims:
        return ()
    bad = [d for d in dims if d < 1 or d > full]
    if bad:
        raise ConfigError(f"{key} = {list(dims)}: each size must be between 1 and {full}")
    return tuple(sorted(set(dims) | {full}))


class RowEncoderMethod(Method):
    """Base of the methods whose encoder maps a whole row to one vector (SCARF, VIME):
    ``encoder`` (:func:`~sslkit.tabular.encoders.build_vector_encoder`), whose output is the
    embedding; ``n_num`` numeric and ``n`` features in all; ``sizes``, the embedding widths
    trained (the Matryoshka sizes ``nested_dims``, or the full width alone)."""

    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__()
        self.cfg = cfg
        self.n_num = int(info["n_num"])
        self.n = n_features(info)
        self.encoder = build_vector_encoder(info, cfg)
        self.spec = vector_encoder_spec(info, cfg)
        self.embed_dim = self.encoder.out_dim
        self.nested_dims = check_nested(cfg.matryoshka_dims, self.embed_dim)
        self.sizes = self.nested_dims or (self.embed_dim,)

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(inputs)

    def embedder(self, space: str | None = None) -> torch.nn.Module:
        """The encoder: ``embed`` is its output."""
        return self.encoder

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        return self.spec
