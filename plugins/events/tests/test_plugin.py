"""The plugin contract: conformance kit, a light plugin module, the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from sslkit.events.plugin import plugin


def test_check_plugin(tmp_path: Path) -> None:
    from sslkit.testing import check_plugin

    reports = check_plugin(
        plugin,
        overrides=["data.path=age-group", "method.hidden=32", "train.batch_size=16"],
        workdir=tmp_path,
    )
    assert set(reports) == {"coles", "mem", "cpc"}
    for name, report in reports.items():
        entity = report["tasks"]["entity"]
        assert entity["test_entities"] > 0, name
        assert 0.0 <= entity["embeddings_logreg_accuracy"] <= 1.0


def test_plugin_module_imports_no_torch() -> None:
    code = (
        "import sys, sslkit.events.plugin; print('torch' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_bad_data_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"user_id": [1, 1, 2], "event_time": ["2024-01-01", "soon", "2024-01-02"]}).to_csv(
        bad, index=False
    )
    env = {**os.environ, "SSLKIT_PLUGINS": "events", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sslkit.cli",
            "pretrain",
            "events",
            "--data",
            str(bad),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2, out.stderr
    text = (out.stderr + out.stdout).strip()
    assert "Traceback" not in text
    assert "'event_time'" in text and "row 2" in text and "'soon'" in text
