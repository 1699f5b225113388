"""Collapse monitors on hand-made embeddings."""

from __future__ import annotations

import math
import warnings

import torch

from sslkit.core.objectives.monitors import embedding_std


def test_embedding_std_equals_the_formula() -> None:
    z = torch.tensor([[3.0, 4.0], [0.0, 2.0]])  # normalised rows (0.6, 0.8) and (0, 1)
    per_dim = [abs(0.6 - 0.0) / math.sqrt(2), abs(0.8 - 1.0) / math.sqrt(2)]  # unbiased, n=2
    assert math.isclose(float(embedding_std(z)), sum(per_dim) / 2, rel_tol=1e-6)


def test_embedding_std_of_one_row_is_nan_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(float(embedding_std(torch.ones(1, 4))))
