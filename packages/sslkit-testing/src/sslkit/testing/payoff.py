"""Checks that a report answers "did pretraining pay?" (the plugins' report tests share it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def check_payoff_report(report: dict[str, Any], baseline: str) -> dict[str, Any]:
    """Assert that ``report`` (as ``sslkit.core.api.evaluate`` returns it) holds the untrained
    control, the baseline named ``baseline``, the label-efficiency curve (1%, 10%, 100%; its
    PNG) and a verdict whose sign follows the numbers; returns the verdict."""
    from sslkit.core.evaluate import payoff

    folder = Path(report["folder"])
    section = report["payoff"]
    assert "rows" in section, f"no assessment: {section}"
    rows = section["rows"]
    assert {r["features"] for r in rows} == {payoff.PRETRAINED, payoff.CONTROL, baseline}
    assert {r["fraction"] for r in rows} == set(payoff.FRACTIONS)
    for r in rows:
        assert r["seeds"] == (1 if r["fraction"] == 1.0 else payoff.SEEDS), r
        assert len(r["scores"]) == r["seeds"]

    v = section["verdict"]
    mine = payoff._row(rows, payoff.PRETRAINED, 1.0)["mean"]
    control = payoff._row(rows, payoff.CONTROL, 1.0)["mean"]
    best = max(r["mean"] for r in rows if r["fraction"] == 1.0 and r["features"] == baseline)
    assert v["gain_over_control"] == mine - control
    assert v["gain_over_baseline"] == mine - best
    paid = v["gain_over_control"] > payoff.TIE and v["gain_over_baseline"] > payoff.TIE
    assert v["paid"] is paid
    assert v["line"].startswith("Pretraining paid" if paid else "Pretraining did not beat")

    text = (folder / "report.md").read_text()
    lines = text.splitlines()
    assert lines[2] == f"**{v['line']}**", "the verdict is not at the top of report.md"
    assert "## Did pretraining pay?" in text
    assert f"| {payoff.CONTROL} | probe |" in text and f"| {baseline} | probe |" in text
    assert f"![Label efficiency]({payoff.CURVE_PNG})" in text
    png = folder / payoff.CURVE_PNG
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return v


def pretrain_and_check(
    domain: str, method: str, overrides: list[str], out: Path, baseline: str
) -> dict[str, Any]:
    """Pretrain a short run, evaluate its default task, and :func:`check_payoff_report` it;
    the verdict printed by ``pretrain`` must be the report's (both at 100% of the labels).
    Returns the report."""
    from sslkit.core import api

    res = api.pretrain(
        domain,
        method,
        overrides=[*overrides, f"train.out={out}", "train.quiet=true"],
        log=lambda *_: None,
    )
    assert res.verdict.startswith("Pretraining "), res.verdict
    report = api.evaluate(res.run_dir, task=api.get_plugin(domain).default_task)
    verdict = check_payoff_report(report, baseline)
    assert verdict["line"] == res.verdict
    return report
