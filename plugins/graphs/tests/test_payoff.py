"""The report of a graphs run answers "did pretraining pay?" (control, raw node features,
label-efficiency curve, verdict)."""

from __future__ import annotations

from sslkit.core import api
from sslkit.testing.payoff import check_payoff_report


def test_report_has_control_baseline_curve_and_verdict(tmp_path, make_csv_graph):
    paths = make_csv_graph(tmp_path, n_per_class=40)
    res = api.pretrain(
        "graphs",
        "grace",
        overrides=[
            f"data.path={paths['path']}",
            f"data.features={paths['features']}",
            f"data.labels={paths['labels']}",
            "data.normalize=none",
            "method.hidden_dim=16",
            "train.steps=20",
            f"train.out={tmp_path / 'runs'}",
            "train.quiet=true",
        ],
        log=lambda *_: None,
    )
    assert res.verdict.startswith("Pretraining ")
    report = api.evaluate(res.run_dir, task="node_classification")
    v = check_payoff_report(report, "the raw node features")
    assert v["line"] == res.verdict  # pretrain's verdict is the report's at 100% of the labels
