"""The default preset's budget follows the user's data: generated tables 10x smaller and 10x
larger than the embedded Adult sample (32,561 training rows) train the budget the preset
derives from them (5 passes, at least 315 steps), shown in the run's log and engine.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

SAMPLE_ROWS = 32_561  # adult.data
SMALL = dict(d_token=16, n_heads=2, n_layers=1, ffn_dim=32)  # the budget does not depend on it


def resampled(adult: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows, each column drawn with replacement from that column of ``adult``."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: adult[c].to_numpy()[rng.integers(0, len(adult), rows)] for c in adult.columns}
    )


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    from sslkit.tabular.data import read_adult

    train, _ = read_adult()
    assert len(train) == SAMPLE_ROWS
    return train


def pretrain(adult, rows: int, tmp_path, *extra: str):
    from sslkit.core import api
    from sslkit.tabular.data import ADULT_TARGET

    tmp_path.mkdir(parents=True, exist_ok=True)
    train, test = tmp_path / f"train-{rows}.parquet", tmp_path / "test.parquet"
    resampled(adult, rows, seed=rows).to_parquet(train)
    resampled(adult, 500, seed=1).to_parquet(test)
    logs: list[str] = []
    result = api.pretrain(
        "tabular",
        "tjepa",  # the budget rule is core's; T-JEPA's preset: 5 passes, at least 315 steps
        overrides=[
            f"data.path={train}", f"data.test_path={test}", f"data.target={ADULT_TARGET}",
            f"train.out={tmp_path}", f"train.name=r{rows}", "train.progress=false",
            "train.tensorboard=false", *(f"method.{k}={v}" for k, v in SMALL.items()), *extra,
        ],
        evaluate_default_task=False,
        log=logs.append,
    )  # fmt: skip
    budget = json.loads((result.run_dir / "engine.json").read_text())["budget"]
    return result, budget, [str(line) for line in logs]


def test_a_table_10x_smaller_trains_the_presets_floor(adult, tmp_path):
    rows = SAMPLE_ROWS // 10  # 3,256 rows: 6 steps of 512 a pass, 5 passes would be 30 steps
    # train.max_steps caps this test's run (2 busy CPU cores); the plan it logs is the data's
    result, budget, logs = pretrain(adult, rows, tmp_path, "train.max_steps=3")
    assert (budget["steps_per_epoch"], budget["rows"]) == (rows // 512, rows)
    assert (budget["planned"], budget["rule"]) == (315, "min_steps")
    assert (budget["total"], result.steps) == (3, 3)
    line = next(line for line in logs if line.startswith("budget:"))
    assert line.startswith("budget: 52.5 passes x 6 steps = 315 steps (train.epochs 5, at least ")
    assert "preset tjepa/default" in line and not any(x.startswith("warning:") for x in logs)
    # the same table with --epochs 2 means 2 passes, and warns that it is too short
    _, budget, logs = pretrain(adult, rows, tmp_path / "e2", "train.epochs=2", "train.max_steps=1")
    assert (budget["planned"], budget["rule"]) == (12, "epochs")
    [warning] = [x for x in logs if x.startswith("warning:")]
    assert "plans 12 optimizer steps, fewer than the 315" in warning


def test_a_table_10x_larger_trains_its_passes(adult, tmp_path):
    rows = SAMPLE_ROWS * 10  # 325,610 rows: 635 steps a pass
    # train.max_steps caps this test's run; the plan it logs is the data's
    result, budget, logs = pretrain(adult, rows, tmp_path, "train.max_steps=2")
    assert (budget["steps_per_epoch"], budget["planned"], budget["rule"]) == (635, 3_175, "epochs")
    assert (budget["total"], result.steps) == (2, 2)
    line = next(line for line in logs if line.startswith("budget:"))
    assert line.startswith("budget: 5 passes x 635 steps = 3,175 steps (train.epochs 5, at least")
    assert "capped at 2 by train.max_steps" in line


def test_the_embedded_sample_keeps_its_step_count():
    """The preset reproduces the epochs-based count the benchmarks were measured with."""
    from sslkit.core import api
    from sslkit.core.engine.budget import plan_budget

    tc = api.resolve_config("tabular", "tjepa").train
    budget = plan_budget(tc, SAMPLE_ROWS // tc.batch_size)
    assert (budget.total, budget.warmup_steps) == (5 * 63, round(0.5 * 63))
