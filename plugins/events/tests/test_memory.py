"""An events DataFrame in memory through the Python API: pretrain and evaluate take ``data=df``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sslkit.core.errors import ConfigError, DataError, UsageError
from sslkit.events.configs import EventsData
from sslkit.events.plugin import plugin
from sslkit.testing.memory import pretrain_in_memory


def events_frame(users: int = 40, seed: int = 0) -> pd.DataFrame:
    """Long-format events: one row per event, a label constant per user (a column)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        segment = "a" if u % 2 else "b"
        for _ in range(int(rng.integers(2, 9))):
            rows.append(
                {
                    "user_id": f"u{u}",
                    "event_time": f"2024-01-{1 + int(rng.integers(0, 28)):02d}",
                    "channel": str(rng.choice(["web", "app"] if u % 2 else ["shop", "app"])),
                    "amount": float(rng.normal(10 if u % 2 else -10, 3)),
                    "segment": segment,
                }
            )
    return pd.DataFrame(rows)


def test_pretrain_and_evaluate_an_events_frame(tmp_path: Path) -> None:
    from sslkit.core import api
    from sslkit.core.plugin import register, unregister

    frame = events_frame()
    n_rows, n_cols = frame.shape
    register(plugin)
    try:
        described = f"<in-memory DataFrame {n_rows}x{n_cols}>"
        result = pretrain_in_memory(
            "events",
            "coles",
            frame,
            tmp_path,
            [
                "data.labels=segment",
                "data.min_freq=1",
                "train.max_steps=2",
                "train.batch_size=8",
                "method.hidden=16",
            ],
            described=described,
        )
        report = api.evaluate(result.run_dir, task="linear-probe", data=frame)
        assert report["data"] == described and report["labels"].startswith("yes")
        assert "linear-probe" in report["tasks"]
        with pytest.raises(UsageError, match="in memory"):
            api.evaluate(result.run_dir, task="linear-probe")
    finally:
        unregister("events")
    assert frame.shape == (n_rows, n_cols)  # the caller's frame is left as it was


def test_from_memory_checks_its_input() -> None:
    from sslkit.events.data import from_memory

    with pytest.raises(DataError, match="expected a pandas DataFrame, got list"):
        from_memory([1, 2], EventsData())
    with pytest.raises(ConfigError, match="data.stream"):
        from_memory(events_frame(4), EventsData(stream=True))
