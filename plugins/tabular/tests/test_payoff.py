"""The report of a tabular run answers "did pretraining pay?" (control, raw columns with the
probe and gradient boosting, label-efficiency curve, verdict)."""

from __future__ import annotations

import warnings

from sslkit.core import api
from sslkit.testing.payoff import check_payoff_report


def test_report_has_control_baseline_curve_and_verdict(tmp_path):
    from sslkit.tabular.schema import SchemaWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        res = api.pretrain(
            "tabular",
            "scarf",
            overrides=[
                "data.max_rows=400",
                "method.out_dim=16",
                "train.max_steps=4",
                f"train.out={tmp_path}",
                "train.quiet=true",
            ],
            log=lambda *_: None,
        )
        assert res.verdict.startswith("Pretraining ")
        report = api.evaluate(res.run_dir, task="probe")
    v = check_payoff_report(report, "the raw columns")
    assert v["line"] == res.verdict
    boosting = [r for r in report["payoff"]["rows"] if r["model"] == "boosting"]
    assert {r["fraction"] for r in boosting} == {0.01, 0.1, 1.0}
