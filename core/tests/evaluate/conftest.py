"""The digits run this folder's tests evaluate (fixtures shared in core/tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def digits_run(digits_plugin, digits_train, tmp_path_factory) -> Path:
    return digits_train(tmp_path_factory.mktemp("eval-runs"))


@pytest.fixture(scope="session")
def digits_arrays():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)
