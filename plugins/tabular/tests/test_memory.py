"""A DataFrame in memory through the Python API: pretrain, evaluate and export take ``data=df``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sslkit.core.errors import UsageError
from sslkit.tabular.schema import SchemaWarning
from sslkit.testing.memory import pretrain_in_memory

FAST = [
    "train.max_steps=2",
    "train.batch_size=32",
    "train.quiet=true",
    "method.d_token=16",
    "method.n_heads=2",
    "method.n_layers=1",
]


def test_pretrain_evaluate_export_a_dataframe(table, tmp_path, capsys):
    from sslkit.cli.main import run as cli
    from sslkit.core import api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        result = pretrain_in_memory(
            "tabular",
            None,
            table,
            tmp_path,
            ["data.target=churn", "data.id_column=customer_id", *FAST],
            described="<in-memory DataFrame 240x8>",
        )

        report = api.evaluate(result.run_dir, task="probe", data=table)
        assert report["data"] == "<in-memory DataFrame 240x8>"
        assert (result.run_dir / "report" / "report.json").is_file()
        # the same rows from a file give the same probe: memory and files are one path
        csv = tmp_path / "same.csv"
        table.to_csv(csv, index=False)
        from_file = api.evaluate(result.run_dir, task="probe", data=str(csv), out=tmp_path / "r")
        assert from_file["tasks"]["probe"]["accuracy"] == report["tasks"]["probe"]["accuracy"]
        assert report["tasks"]["probe"]["n_test"] == from_file["tasks"]["probe"]["n_test"] > 0

        out = api.export(result.run_dir, to="npy", data=table.iloc[:50], out=tmp_path / "npy")
        assert np.load(out / "embeddings.npy").shape[0] == 50

    # the run does not keep the rows: evaluate and export without data ask for them
    with pytest.raises(UsageError, match=r"in memory \(<in-memory DataFrame 240x8>\).*--data"):
        api.evaluate(result.run_dir, task="probe")
    with pytest.raises(UsageError, match="--data FILE"):
        api.export(result.run_dir, to="npy", out=tmp_path / "none")
    capsys.readouterr()
    assert cli(["evaluate", str(result.run_dir), "--task", "probe"]) == 2
    text = "".join(capsys.readouterr())
    assert "Traceback" not in text and "--data" in text and "in memory" in text
    assert len(text.strip().splitlines()) == 1, text


def test_from_dataframe_is_the_hook_without_a_run(table):
    from sslkit.tabular.configs import TabularData
    from sslkit.tabular.data import from_dataframe, from_memory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        a = from_dataframe(table, target="churn")
        b = from_memory(table, TabularData(target="churn"))
    assert a.info == b.info and a.state() == b.state()
    assert np.array_equal(a.arrays("train")["num"], b.arrays("train")["num"])
