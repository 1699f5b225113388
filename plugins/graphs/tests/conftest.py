"""Small generated graphs for fast tests (the embedded Cora is used where its size is fine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def sbm_graph(
    n_per_class: int = 30,
    classes: int = 3,
    p_in: float = 0.2,
    p_out: float = 0.01,
    features: int = 16,
    seed: int = 0,
):
    """A stochastic-block-model graph whose node features are noisy class indicators."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    n = y.size
    same = y[:, None] == y[None, :]
    prob = np.where(same, p_in, p_out)
    upper = np.triu(rng.random((n, n)) < prob, 1)
    src, dst = np.nonzero(upper)
    x = rng.normal(0, 1, (n, features)).astype(np.float32)
    x[np.arange(n), y] += 2.0
    x = np.abs(x)
    return np.stack([src, dst]), x, y


def write_csv_graph(folder: Path, **kw) -> dict[str, str]:
    ei, x, y = sbm_graph(**kw)
    edges = folder / "edges.csv"
    edges.write_text("source,target\n" + "\n".join(f"{a},{b}" for a, b in ei.T) + "\n")
    feats = folder / "features.csv"
    np.savetxt(feats, x, delimiter=",", fmt="%.5f")
    labels = folder / "labels.csv"
    labels.write_text("\n".join(str(int(v)) for v in y) + "\n")
    return {"path": str(edges), "features": str(feats), "labels": str(labels)}


@pytest.fixture
def csv_graph(tmp_path) -> dict[str, str]:
    return write_csv_graph(tmp_path)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SSLKIT_CACHE", str(tmp_path_factory.getbasetemp() / "sslkit-cache"))


@pytest.fixture
def make_csv_graph():
    return write_csv_graph


@pytest.fixture
def make_sbm():
    return sbm_graph
