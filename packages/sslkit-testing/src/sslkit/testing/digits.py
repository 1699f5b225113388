"""A small real plugin for tests of the core and the CLI: UCI handwritten digits.

The data are scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test
set (1,797 8x8 images, 10 classes; `sklearn.datasets.load_digits`), so tests need no download.
The method is SimCLR (Chen et al. 2020) on flattened images with noise and pixel-dropout views.
This module stays light (no torch): the heavy parts live in ``digits_impl``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslkit.core.method_config import MethodOptions
from sslkit.core.plugin import (
    DatasetSpec,
    MethodSpec,
    Plugin,
    Registry,
    TaskSpec,
    distribution_version,
)


@dataclass
class DigitsData:
    path: str = ""
    """Empty for the embedded digits; or a .npz with arrays `x` (rows, 64) and optional `y`."""
    max_rows: int = 0
    test_fraction: float = 0.25


@dataclass
class DigitsSimCLR(MethodOptions):
    hidden_dim: int = 128
    embed_dim: int = 32
    """Width of the embedding."""
    temperature: float = 0.2
    noise: float = 0.1
    dropout: float = 0.2


plugin = Plugin(
    name="digits",
    version=distribution_version("sslkit-testing"),
    summary="UCI handwritten digits (8x8) with SimCLR: the reference plugin of sslkit-testing",
    data_config=DigitsData,
    load_data="sslkit.testing.digits_impl:load_data",
    methods=Registry(
        "method",
        [
            MethodSpec(
                "simclr",
                DigitsSimCLR,
                "sslkit.testing.digits_impl:build_simclr",
                summary="SimCLR with noise and pixel-dropout views",
                paper="Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, ICML 2020",
            )
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "digits",
                summary="1,797 8x8 digit images, 10 classes",
                source="scikit-learn load_digits (UCI)",
                license="CC BY 4.0",
                rows="1,797",
            )
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "knn",
                "sslkit.testing.digits_impl:knn_task",
                summary="5-NN accuracy on the test split",
            )
        ],
    ),
    default_method="simclr",
    default_task="knn",
    presets="sslkit.testing.digits_presets",
)
