"""`sslkit evaluate` end to end (in-process CLI) on a trained digits run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

cli = pytest.importorskip("sslkit.cli.main")

PNG = b"\x89PNG\r\n\x1a\n"


def evaluate(*args: str) -> int:
    return cli.run(["evaluate", *map(str, args)])


def test_full_report(digits_run: Path, tmp_path: Path, capsys):
    out = tmp_path / "report"
    assert evaluate(digits_run, "--out", out) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    tasks = report["tasks"]
    assert list(tasks) == ["representation", "linear-probe", "knn-probe", "retrieval", "knn"]
    # real digits through a 20-step SimCLR encoder: far above chance (0.1)
    assert tasks["linear-probe"]["accuracy"] > 0.8
    assert tasks["knn-probe"]["accuracy@20"] > 0.7 and "accuracy@200" in tasks["knn-probe"]
    for key in ("recall@1", "recall@10", "ndcg@10", "precision@1", "map@r"):
        assert 0.0 < tasks["retrieval"][key] <= 1.0
    assert tasks["retrieval"]["precision@1"] == pytest.approx(tasks["retrieval"]["recall@1"])
    rep = tasks["representation"]
    assert 1.0 < rep["rankme"] <= 32 and rep["uniformity"] < 0 and "alignment" in rep
    assert report["splits"] == {"train": 1348, "test": 449}
    assert report["training"]["steps"] == 20
    for plot in ("training.png", "embedding_map.png", "spectrum.png"):
        blob = (out / plot).read_bytes()
        assert blob.startswith(PNG) and len(blob) > 5000, plot
        assert f"]({plot})" in (out / "report.md").read_text()
    md = (out / "report.md").read_text()
    assert "## Summary" in md and "| linear-probe | accuracy" in md
    assert "| task | result | seconds |" in md  # each task's wall time, as in report.json
    row = next(line for line in md.splitlines() if line.startswith("| knn-probe |"))
    assert row.endswith(f"| {tasks['knn-probe']['seconds']:.1f} |")
    assert "linear-probe: " in printed and "report written to" in printed


def test_one_task(digits_run: Path, tmp_path: Path):
    assert evaluate(digits_run, "--task", "knn-probe", "--out", tmp_path / "r") == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert list(report["tasks"]) == ["knn-probe"]


def test_unlabelled_data_still_gets_a_report(digits_run: Path, digits_arrays, tmp_path, capsys):
    x, _ = digits_arrays
    np.savez(tmp_path / "nolabels.npz", x=x[:600])
    out = tmp_path / "report"
    assert evaluate(digits_run, "--data", tmp_path / "nolabels.npz", "--out", out) == 0
    printed = capsys.readouterr().out.splitlines()
    report = json.loads((out / "report.json").read_text())
    rep = report["tasks"]["representation"]
    assert rep["rankme"] > 1 and np.isfinite(rep["uniformity"]) and "alignment" not in rep
    assert report["labels"] == "none"
    for task in ("linear-probe", "knn-probe", "retrieval", "knn"):
        assert report["tasks"][task] == {"skipped": f"{task} needs labels and this data has none"}
        # one line per skipped task
        lines = [line for line in printed if line.startswith(f"{task}:")]
        assert lines == [f"{task}: skipped: {task} needs labels and this data has none"]
    for plot in ("training.png", "embedding_map.png", "spectrum.png"):
        assert (out / plot).read_bytes().startswith(PNG)


def _no_report(folder: Path) -> None:
    assert not folder.exists()
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}")]
    assert leftovers == []


def test_run_without_checkpoint(digits_run: Path, tmp_path: Path, capsys):
    broken = tmp_path / "run"
    shutil.copytree(digits_run, broken, ignore=shutil.ignore_patterns("checkpoints", "report"))
    assert evaluate(broken) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0]
    _no_report(broken / "report")


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((20, 60))}, "expected (rows, 64)"),  # wrong feature size
        ({"features": np.zeros((20, 64))}, "no array 'x'"),  # missing column
    ],
)
def test_data_with_another_schema(digits_run, tmp_path, capsys, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "report"
    assert evaluate(digits_run, "--data", tmp_path / "bad.npz", "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "bad.npz" in err[0]
    _no_report(out)


def test_unknown_task(digits_run: Path, tmp_path: Path, capsys):
    assert evaluate(digits_run, "--task", "nope", "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "linear-probe" in err
    _no_report(tmp_path / "r")


def test_a_failed_evaluation_keeps_the_previous_report(digits_run, tmp_path, monkeypatch):
    from sslkit.core.evaluate import plots

    out = tmp_path / "r"
    assert evaluate(digits_run, "--task", "representation", "--out", out) == 0
    before = (out / "report.json").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "spectrum", broken)
    assert evaluate(digits_run, "--task", "knn-probe", "--out", out) == 1
    assert (out / "report.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_tasks_on_request_run_only_when_named():
    from types import SimpleNamespace

    from sslkit.core.errors import UsageError
    from sslkit.core.evaluate.report import select_tasks
    from sslkit.core.plugin import Registry, TaskSpec

    plugin = SimpleNamespace(
        tasks=Registry(
            "task",
            [TaskSpec("probe", "m:f"), TaskSpec("paper-protocol", "m:g", on_request=True)],
        )
    )
    generic = ["representation", "linear-probe", "knn-probe", "retrieval"]
    assert select_tasks(plugin, None) == [*generic, "probe"]
    assert select_tasks(plugin, ["all"]) == [*generic, "probe", "paper-protocol"]
    assert select_tasks(plugin, ["paper-protocol"]) == ["paper-protocol"]
    with pytest.raises(UsageError, match="available: all, representation"):
        select_tasks(plugin, ["nope"])
