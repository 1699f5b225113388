"""The plugin end to end: Python API on a CSV, the CLI on Parquet, errors, conformance."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from sslkit.tabular.plugin import plugin
from sslkit.tabular.schema import SchemaWarning

FAST = [
    "train.max_steps=3",
    "train.batch_size=32",
    "train.quiet=true",
    "method.d_token=16",
    "method.n_heads=2",
]


def test_plugin_import_is_light():
    code = (
        "import sys, sslkit.tabular.plugin as p; "
        "assert p.plugin.name == 'tabular'; "
        "print('torch' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_pretrain_a_csv_through_the_api(table, tmp_path):
    from sslkit.core import api

    # a target the features hold (age > 45): a probe that meets the right labels ranks far
    # above chance after 3 steps; one whose rows and labels were misaligned would not
    table = table.assign(senior=np.where(table["age"] > 45, "yes", "no"))
    csv_path = tmp_path / "customers.csv"
    table.to_csv(csv_path, index=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        result = api.pretrain(
            "tabular",
            overrides=[
                f"data.path={csv_path}",
                "data.target=senior",
                f"train.out={tmp_path}",
                *FAST,
            ],
            log=lambda *_: None,
        )
    assert result.steps == 3 and np.isfinite(result.losses).all()
    assert result.metrics["roc_auc"] > 0.65, result.metrics  # chance: 0.5 (measured 0.78)
    state = json.loads((result.run_dir / "data_state.json").read_text())
    assert "customer_id" in state["excluded"] and "signup" in state["datetime"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        report = api.evaluate(result.run_dir, task="probe")
    # evaluate reuses the saved preprocessing and weights: the same test accuracy
    assert report["tasks"]["probe"]["accuracy"] == pytest.approx(result.metrics["accuracy"])


def cli(args, capsys):
    from sslkit.cli.main import run

    code = run(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_pretrains_a_parquet_file(tmp_path, table, capsys):
    path = tmp_path / "customers.parquet"
    table.to_parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        code, out = cli(
            [
                "pretrain",
                "tabular",
                "--data",
                str(path),
                "--set",
                "target=churn",
                "--out",
                str(tmp_path / "runs"),
            ]
            + [x for s in FAST for x in ("--set", s)],
            capsys,
        )
    assert code == 0, out
    assert "probe: accuracy=" in out


@pytest.mark.parametrize(
    "change,expected",
    [
        ("missing_target", "target column 'nope' is not in the table"),
        ("text_in_numeric", "row 11, column 'age': numeric column holds text 'n/a!'"),
        ("empty", "the file is empty"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, table, capsys, change, expected):
    path = tmp_path / "bad.csv"
    target = "churn"
    if change == "missing_target":
        target = "nope"
        table.to_csv(path, index=False)
    elif change == "text_in_numeric":
        table = table.astype({"age": object})
        table.loc[10, "age"] = "n/a!"
        table.to_csv(path, index=False)
    else:
        path.write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        code, out = cli(
            [
                "pretrain",
                "tabular",
                "--data",
                str(path),
                "--set",
                f"target={target}",
                "--out",
                str(tmp_path),
            ],
            capsys,
        )
    assert code == 2
    assert expected in out
    assert "Traceback" not in out
    assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.conformance
def test_conformance(tmp_path):
    """Every method: 2-process DDP, every export format, SIGTERM + resume, light import."""
    from sslkit.testing import check_plugin

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        reports = check_plugin(
            plugin,
            overrides=[
                "data.max_rows=120",
                "method.d_token=16",
                "method.n_heads=2",
                "method.out_dim=32",
            ],
            workdir=tmp_path,
        )
    assert set(reports) == set(plugin.methods) == {"tjepa", "scarf", "vime"}
