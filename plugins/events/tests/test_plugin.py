"""The plugin contract: conformance kit, a light plugin module, the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sslkit.events.plugin import plugin


@pytest.mark.conformance
def test_check_plugin(tmp_path: Path) -> None:
    from sslkit.testing import check_plugin

    reports = check_plugin(
        plugin,
        overrides=["data.path=age-group", "method.hidden=32", "train.batch_size=16"],
        workdir=tmp_path,
    )
    assert set(reports) == set(plugin.methods) == {"coles", "mem", "cpc"}
    for name, report in reports.items():
        entity = report["tasks"]["entity"]
        assert entity["test_entities"] > 0, name


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


def test_export_a_new_log_with_the_runs_preprocessing(tmp_path: Path) -> None:
    """Train on one log, export another one (other entities, an unseen category)."""
    import numpy as np
    import pyarrow.parquet as pq

    from sslkit.core import api
    from sslkit.core.plugin import register, unregister

    rng = np.random.default_rng(0)

    def log(users: range) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"user_id": f"u{u}", "event_time": f"2024-01-{1 + int(rng.integers(0, 28)):02d}",
                 "channel": str(rng.choice(["web", "app"])), "amount": float(rng.normal())}
                for u in users for _ in range(int(rng.integers(1, 8)))
            ]
        )  # fmt: skip

    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    log(range(30)).to_csv(train, index=False)
    other = log(range(100, 110))
    other.loc[0, "channel"] = "kiosk"
    other.to_csv(new, index=False)
    register(plugin)
    try:
        run = api.pretrain(
            "events",
            "coles",
            overrides=[
                f"data.path={train}",
                "data.min_freq=1",
                "train.max_steps=2",
                "train.batch_size=8",
                "method.hidden=16",
                "train.quiet=true",
                f"train.out={tmp_path}",
                "train.name=r",
            ],
            evaluate_default_task=False,
            log=lambda *_: None,
        )
        out = api.export(run.run_dir, data=str(new), to="parquet", out=tmp_path / "exp")
    finally:
        unregister("events")
    table = pq.read_table(out / "embeddings.parquet")
    assert sorted(table.column("id").to_pylist()) == sorted(other["user_id"].unique().tolist())
