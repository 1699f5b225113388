"""The report of an events run answers "did pretraining pay?" (control, hand-crafted
aggregates, label-efficiency curve, verdict)."""

from __future__ import annotations

from sslkit.testing.payoff import pretrain_and_check


def test_report_has_control_baseline_curve_and_verdict(tmp_path):
    options = ["data.path=age-group", "method.hidden=32", "train.batch_size=16"]
    options.append("train.max_steps=6")
    pretrain_and_check("events", "coles", options, tmp_path, "the hand-crafted aggregates")
