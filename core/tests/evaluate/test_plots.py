"""Plots: curves read from metrics.jsonl (RankMe when monitored), 2-D maps, spectrum."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslkit.core.evaluate import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_training_curves_with_rankme(tmp_path):
    lines = [{"step": s, "loss": 3.0 / s, "lr": 0.1} for s in range(1, 41)]
    for rec in lines[9::10]:
        rec["rankme"] = float(rec["step"])
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"step": 41, "lo'  # torn last line
    (tmp_path / "metrics.jsonl").write_text(text)
    records = plots.read_metrics(tmp_path / "metrics.jsonl")
    assert len(records) == 40
    summary = plots.training_curves(records, tmp_path / "t.png")
    assert summary == {
        "steps": 40.0,
        "first_loss": 3.0,
        "last_loss": 3.0 / 40,
        "rankme_first": 10.0,
        "rankme_last": 40.0,
    }
    assert (tmp_path / "t.png").read_bytes().startswith(PNG)


def test_training_curves_without_records(tmp_path):
    assert plots.training_curves([], tmp_path / "t.png") is None
    assert not (tmp_path / "t.png").exists()


def test_pca_projection_keeps_the_main_axes():
    rng = np.random.default_rng(0)
    x = np.zeros((200, 10))
    x[:, 3] = rng.normal(size=200) * 10  # the direction of largest variance
    x[:, 7] = rng.normal(size=200) * 3
    x += 0.01 * rng.normal(size=x.shape)
    xy = plots.project_2d(x, "pca")
    assert abs(np.corrcoef(xy[:, 0], x[:, 3])[0, 1]) > 0.999
    assert abs(np.corrcoef(xy[:, 1], x[:, 7])[0, 1]) > 0.99


@pytest.mark.parametrize(
    "labels, kind",
    [
        (None, "none"),
        (np.arange(300) % 3, "classification"),
        (np.linspace(0, 1, 300), "regression"),
    ],
)
def test_embedding_map_and_spectrum(tmp_path, labels, kind):
    x = np.random.default_rng(1).normal(size=(300, 8)).astype(np.float32)
    info = plots.embedding_map(x, labels, tmp_path / "m.png", kind=kind, max_points=250)
    assert info == {"points": 250.0, "projection": "pca"}
    plots.spectrum(x, tmp_path / "s.png")
    for name in ("m.png", "s.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG)
