"""The report of an events run answers "did pretraining pay?" (control, hand-crafted
aggregates, label-efficiency curve, verdict)."""

from __future__ import annotations

from sslkit.core import api
from sslkit.testing.payoff import check_payoff_report


def test_report_has_control_baseline_curve_and_verdict(tmp_path):
    res = api.pretrain(
        "events",
        "coles",
        overrides=[
            "data.path=age-group",
            "method.hidden=32",
            "train.batch_size=16",
            "train.max_steps=6",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        log=lambda *_: None,
    )
    assert res.verdict.startswith("Pretraining ")
    report = api.evaluate(res.run_dir, task="entity")
    v = check_payoff_report(report, "the hand-crafted aggregates")
    assert v["line"] == res.verdict
