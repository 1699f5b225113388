"""The report of a tabular run answers "did pretraining pay?" (control, raw columns with the
probe and gradient boosting, label-efficiency curve, verdict)."""

from __future__ import annotations

import warnings

from sslkit.testing.payoff import pretrain_and_check


def test_report_has_control_baseline_curve_and_verdict(tmp_path):
    from sslkit.tabular.schema import SchemaWarning

    options = ["data.max_rows=400", "method.out_dim=16", "train.max_steps=4"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        report = pretrain_and_check("tabular", "scarf", options, tmp_path, "the raw columns")
    boosting = [r for r in report["payoff"]["rows"] if r["model"] == "boosting"]
    assert {r["fraction"] for r in boosting} == {0.01, 0.1, 1.0}


def test_default_evaluation_leaves_the_mlp_protocols_on_request(tmp_path):
    from sslkit.core import api
    from sslkit.tabular.schema import SchemaWarning

    options = ["data.max_rows=400", "method.out_dim=16", "train.max_steps=2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        res = api.pretrain(
            "tabular",
            "scarf",
            overrides=[*options, f"train.out={tmp_path}", "train.quiet=true"],
            evaluate_default_task=False,
            log=lambda *_: None,
        )
        report = api.evaluate(res.run_dir, control=False)
    assert "probe" in report["tasks"] and "mlp" not in report["tasks"]
    assert report["not_run"] == ["mlp", "tjepa-protocol"]
    text = (tmp_path / res.run_dir.name / "report" / "report.md").read_text()
    assert "Not run by default (minutes of training each): `mlp`, `tjepa-protocol`" in text
