"""The "did pretraining pay?" assessment: subsampling, curve rows, and the verdict's sign."""

from __future__ import annotations

import numpy as np
import pytest

from sslkit.core.evaluate import payoff
from sslkit.core.evaluate.embeddings import Embeddings
from sslkit.core.evaluate.logistic import ProbeProtocol

PROBE = ProbeProtocol(cs=(0.1, 1.0), select="holdout")


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    raw = rng.normal(size=(n, 6)) + 0.6 * y[:, None] * np.array([1, 0, 0, 0, 0, 0])
    return raw, y


def _sets(pretrained: str):
    """Raw features with a weak signal; an oracle embedding (the label plus a little noise) or
    a random one; the control is random too."""
    out = {}
    rng = np.random.default_rng(7)
    parts = {}
    for split, n, seed in (("train", 600, 1), ("test", 400, 2)):
        raw, y = _split(n, seed)
        ids = np.arange(n)
        oracle = np.c_[y + 0.1 * rng.normal(size=n), rng.normal(size=(n, 3))]
        random = rng.normal(size=(n, 4))
        parts[split] = {
            payoff.PRETRAINED: Embeddings(ids, oracle if pretrained == "oracle" else random, y),
            payoff.CONTROL: Embeddings(ids, rng.normal(size=(n, 4)), y),
            "the raw columns": Embeddings(ids, raw, y),
        }
    for name in parts["train"]:
        out[name] = (parts["train"][name], parts["test"][name], None)
    models = {name: ("probe",) for name in out}
    models["the raw columns"] = ("probe", "boosting")
    return out, models


def test_label_subsample_keeps_every_class_and_the_fraction():
    y = np.array([0] * 90 + [1] * 9 + [2])
    rows = payoff.label_subsample(y, 0.1, seed=3, kind="classification")
    # per class max(1, round(0.1 n_c)): 9 + 1 + 1
    assert len(rows) == 11
    assert set(y[rows]) == {0, 1, 2}
    assert np.array_equal(rows, np.sort(rows))
    again = payoff.label_subsample(y, 0.1, seed=3, kind="classification")
    assert np.array_equal(rows, again)
    assert not np.array_equal(rows, payoff.label_subsample(y, 0.1, seed=4, kind="classification"))
    assert len(payoff.label_subsample(y, 1.0, 0, "classification")) == 100
    assert len(payoff.label_subsample(np.linspace(0, 1, 50), 0.01, 0, "regression")) == 2


def test_oracle_embedding_pays_and_the_verdict_says_so():
    sets, models = _sets("oracle")
    metric, rows = payoff.label_curve(
        sets, models, "classification", PROBE, fractions=(0.1, 1.0), seeds=3
    )
    assert metric == "roc_auc"
    # one fit at 100%, three seeds below; 3 sets x (1 or 2 models) x 2 fractions
    assert len(rows) == 8
    full = {(r["features"], r["model"]): r for r in rows if r["fraction"] == 1.0}
    assert full[(payoff.PRETRAINED, "probe")]["seeds"] == 1
    assert full[(payoff.PRETRAINED, "probe")]["mean"] > 0.95
    assert 0.35 < full[(payoff.CONTROL, "probe")]["mean"] < 0.65  # chance
    low = [r for r in rows if r["fraction"] == 0.1]
    assert all(r["seeds"] == 3 and r["labels"] == 60 for r in low)
    v = payoff.verdict(metric, rows)
    assert v["paid"] is True
    assert v["gain_over_control"] == pytest.approx(v["pretrained"] - v["control"])
    assert v["gain_over_control"] > 0.3 and v["gain_over_baseline"] > 0
    assert v["line"].startswith("Pretraining paid on this data: ROC-AUC ")
    assert "for the untrained encoder (+" in v["line"]


def test_random_embedding_does_not_pay_and_the_verdict_says_so_plainly():
    sets, models = _sets("random")
    metric, rows = payoff.label_curve(
        sets, models, "classification", PROBE, fractions=(1.0,), seeds=1
    )
    v = payoff.verdict(metric, rows)
    assert v["paid"] is False
    assert v["gain_over_baseline"] < 0  # the raw columns carry the signal
    assert v["line"].startswith("Pretraining did not beat ")
    assert "the raw columns on this data" in v["line"]
    best = max((r for r in rows if r["features"] == "the raw columns"), key=lambda r: r["mean"])
    assert v["baseline"] == best["mean"]
    assert f"({v['gain_over_baseline']:+.4f})" in v["line"]


def test_low_label_lines_give_the_paired_gain_and_its_standard_error():
    rows = [
        {"features": payoff.PRETRAINED, "model": "probe", "fraction": 0.1, "labels": 10,
         "mean": 0.7, "std": 0.05, "seeds": 3, "scores": [0.65, 0.7, 0.75]},
        {"features": payoff.CONTROL, "model": "probe", "fraction": 0.1, "labels": 10,
         "mean": 0.6, "std": 0.0, "seeds": 3, "scores": [0.6, 0.6, 0.6]},
    ]  # fmt: skip
    (line,) = payoff.low_label_lines("roc_auc", rows)
    diff = np.array([0.05, 0.1, 0.15])
    se = diff.std(ddof=1) / np.sqrt(3)
    assert (
        line
        == f"10% of the labels (10): 0.7000 ± 0.0500, +0.1000 ± {se:.4f} over the untrained encoder"
    )


def test_paired_text_counts_better_seeds_in_the_metric_s_direction():
    # RMSE (lower is better): diffs -0.2, +0.1, -0.2: mean -0.1, std([-0.2, 0.1, -0.2], ddof=1)
    # = 0.1732051, se 0.1, t -1.00; two seeds are better (lower)
    text = payoff.paired_text([1.0, 1.3, 1.0], [1.2, 1.2, 1.2], "none", sign=-1)
    assert text == "-0.1000 ± 0.1000 against none on 3 seeds (t -1.00), 2 of them better"
    # ROC-AUC (higher is better): the same scores have one better seed
    assert payoff.paired_text([1.0, 1.3, 1.0], [1.2, 1.2, 1.2], "x").endswith("1 of them better")


def test_curve_plot_is_written(tmp_path):
    sets, models = _sets("oracle")
    metric, rows = payoff.label_curve(
        sets, models, "classification", PROBE, fractions=(0.1, 1.0), seeds=2
    )
    payoff.plot_curve(metric, rows, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _full(features: str, mean: float, model: str = "probe") -> dict:
    return {"features": features, "model": model, "fraction": 1.0, "labels": 100,
            "mean": mean, "std": 0.0, "seeds": 1, "scores": [mean]}  # fmt: skip


def test_a_gain_within_the_tie_margin_is_not_called_a_gain():
    rows = [
        _full(payoff.PRETRAINED, 0.9167),
        _full(payoff.CONTROL, 0.9167 - payoff.TIE / 2),
        _full("the raw columns", 0.80, "boosting"),
    ]
    v = payoff.verdict("roc_auc", rows)
    assert v["paid"] is False
    assert v["line"].startswith("Pretraining did not beat the untrained encoder on this data:")
    rows[1] = _full(payoff.CONTROL, 0.90)
    assert payoff.verdict("roc_auc", rows)["paid"] is True
    rows[2] = _full("the raw columns", 0.95, "boosting")
    v = payoff.verdict("roc_auc", rows)
    assert v["line"].startswith(
        "Pretraining did not beat gradient boosting on the raw columns on this data:"
    )
    assert "0.9500 for gradient boosting on the raw columns (-0.0333)" in v["line"]


def test_no_verdict_from_a_score_that_is_not_a_number():
    rows = [_full(payoff.PRETRAINED, float("nan")), _full(payoff.CONTROL, 0.6)]
    v = payoff.verdict("roc_auc", rows)
    assert "paid" not in v and v["line"].startswith("No verdict")
    rows = [_full(payoff.PRETRAINED, 0.8), _full("the raw columns", float("nan"))]
    v = payoff.verdict("roc_auc", rows)
    assert v["paid"] is True and "baseline" not in v


def test_labelled_rows_drop_unlabelled_classes_but_keep_negative_numbers():
    emb = Embeddings(np.arange(4), np.zeros((4, 2)), np.array([0, -1, 2, -5]))
    assert payoff.labelled_rows(emb).tolist() == [0, 2]
    assert payoff.labelled_rows(emb, "regression").tolist() == [0, 1, 2, 3]
    nan = Embeddings(np.arange(3), np.zeros((3, 2)), np.array([0.5, np.nan, -1.0]))
    assert payoff.labelled_rows(nan, "regression").tolist() == [0, 2]


def test_a_remembered_score_is_not_fitted_again(monkeypatch):
    """The verdict of `sslkit pretrain` leaves its 100% scores in the run; `sslkit evaluate`
    of the same rows reuses them (and fits only what the memo lacks)."""
    sets, models = _sets("oracle")
    memo: dict[str, float] = {}
    _, first = payoff.label_curve(
        sets, models, "classification", PROBE, fractions=(1.0,), memo=memo
    )
    assert len(memo) == 4  # 3 probes and one boosting fit at 100%

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(payoff, "score", no_fit)
    _, again = payoff.label_curve(
        sets, models, "classification", PROBE, fractions=(1.0,), memo=memo
    )
    assert again == first
    # other rows are other inputs: a changed label is not answered from the memo
    sets[payoff.CONTROL][0].y[0] = 1 - sets[payoff.CONTROL][0].y[0]
    with pytest.raises(AssertionError, match="fitted again"):
        payoff.label_curve(sets, models, "classification", PROBE, fractions=(1.0,), memo=memo)


def test_the_mean_over_tasks_averages_each_seeds_score_then_takes_mean_and_std():
    def curve(metric, a, b, labels):
        rows = [{"features": "pretrained", "model": "probe", "fraction": 0.1, "labels": labels,
                 "mean": 0.0, "std": 0.0, "seeds": 2, "scores": a},
                {"features": "untrained control", "model": "probe", "fraction": 0.1,
                 "labels": labels, "mean": 0.0, "std": 0.0, "seeds": 2, "scores": b}]  # fmt: skip
        return metric, rows

    first, second = (
        curve("roc_auc", [0.6, 0.8], [0.5, 0.7], 10),
        curve("roc_auc", [0.9, 0.7], [0.6, 0.6], 4),
    )
    metric, rows = payoff.mean_over_tasks([first, second])
    assert metric == "roc_auc" and len(rows) == 2
    # seed by seed: (0.6 + 0.9) / 2 = 0.75 and (0.8 + 0.7) / 2 = 0.75
    assert rows[0]["scores"] == pytest.approx([0.75, 0.75])
    assert rows[0]["mean"] == pytest.approx(0.75) and rows[0]["std"] == pytest.approx(0.0)
    assert rows[1]["scores"] == pytest.approx([0.55, 0.65])
    assert rows[1]["mean"] == pytest.approx(0.6) and rows[1]["std"] == pytest.approx(0.05)
    assert rows[0]["labels"] == 14 and rows[0]["tasks"] == 2
    assert payoff.mean_over_tasks([first]) is first
    with pytest.raises(ValueError, match="different metrics"):
        payoff.mean_over_tasks([first, curve("accuracy", [0.5, 0.5], [0.5, 0.5], 3)])
