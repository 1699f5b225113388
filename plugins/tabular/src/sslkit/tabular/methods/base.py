"""Pieces shared by the tabular methods: batch helpers and the base of the methods that encode
whole rows (SCARF, VIME). Augmentations are in :mod:`sslkit.tabular.augment`; Matryoshka
sizes are core's (``method.matryoshka_dims``, :meth:`sslkit.core.engine.method.Method.nested`)."""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.engine.method import Method
from sslkit.tabular.encoders import build_vector_encoder, vector_encoder_spec


def n_features(info: dict[str, Any]) -> int:
    return int(info["n_num"]) + int(info["n_cat"])


def batch_size_of(inputs: dict[str, torch.Tensor]) -> int:
    return next(iter(inputs.values())).shape[0]


def device_of(inputs: dict[str, torch.Tensor]) -> torch.device:
    return next(iter(inputs.values())).device


class RowEncoderMethod(Method):
    """Base of the methods whose encoder maps a whole row to one vector (SCARF, VIME):
    ``encoder`` (:func:`~sslkit.tabular.encoders.build_vector_encoder`), whose output is the
    embedding; ``n_num`` numeric and ``n`` features in all. Their losses go through
    :meth:`~sslkit.core.engine.method.Method.nested`, so core trains Matryoshka sizes of the
    embedding (``method.matryoshka_dims``), with one copy of their heads per size."""

    matryoshka = True

    def __init__(self, cfg: Any, info: dict[str, Any]):
        super().__init__()
        self.cfg = cfg
        self.n_num = int(info["n_num"])
        self.n = n_features(info)
        self.encoder = build_vector_encoder(info, cfg)
        self.spec = vector_encoder_spec(info, cfg)
        self.embed_dim = self.encoder.out_dim

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(inputs)

    def embedder(self, space: str | None = None) -> torch.nn.Module:
        """The encoder: ``embed`` is its output."""
        return self.encoder

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        return self.spec
