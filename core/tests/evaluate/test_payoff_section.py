"""report.md's "Did pretraining pay?" section from a task's own payoff (a task without labels,
e.g. recommendation): its caption and column, no label-efficiency curve."""

from __future__ import annotations

from sslkit.core.evaluate.report import payoff_section


def test_a_tasks_own_payoff_section_renders_without_a_curve():
    section = {
        "task": "recommend", "metric": "recall@20", "verdict": {"line": "Recall@20 0.05: above"},
        "rows": [{"features": "embeddings", "model": "inner product", "fraction": 1.0,
                  "mean": 0.0512, "std": 0.0},
                 {"features": "item popularity", "model": "counts", "fraction": 1.0,
                  "mean": 0.0401, "std": 0.0}],
        "column": "test split", "curve": False, "caption": "All-rank Recall@20:",
    }  # fmt: skip
    lines = payoff_section(section)
    assert lines[:4] == ["## Did pretraining pay?", "", "Recall@20 0.05: above", ""]
    assert "All-rank Recall@20:" in lines and "| features | model | test split |" in lines
    assert "| item popularity | counts | 0.0401 ± 0.0000 |" in lines
    assert not any("label_efficiency" in line for line in lines)
    # the probes' own section keeps its caption and curve
    del section["column"], section["curve"], section["caption"]
    lines = payoff_section(section)
    assert "| features | model | 100% labels |" in lines
    assert any("label_efficiency" in line for line in lines)
