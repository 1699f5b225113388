"""The report of a graphs run answers "did pretraining pay?" (control, raw node features,
label-efficiency curve, verdict)."""

from __future__ import annotations

from sslkit.testing.payoff import pretrain_and_check


def test_report_has_control_baseline_curve_and_verdict(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path, n_per_class=40)
    options = [f"data.{k}={v}" for k, v in paths.items()]
    options += ["data.normalize=none", "method.hidden_dim=16", "train.steps=20"]
    pretrain_and_check("graphs", "grace", options, tmp_path / "runs", "the raw node features")
