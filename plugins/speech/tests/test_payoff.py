"""The report of a speech run answers "did pretraining pay?" (control, mean-pooled MFCCs,
label-efficiency curve, verdict)."""

from __future__ import annotations

from sslkit.testing.payoff import pretrain_and_check


def test_report_has_control_baseline_curve_and_verdict(tmp_path):
    options = ["method.dim=32", "method.layers=2", "method.heads=2", "method.n_mels=40"]
    options += ["data.max_files=150", "data.crop_seconds=0.5", "train.batch_size=8"]
    options += ["train.max_steps=4", "method.clusters=20", "method.kmeans_frames=5000"]
    pretrain_and_check("speech", "hubert", options, tmp_path, "mean-pooled MFCCs")
