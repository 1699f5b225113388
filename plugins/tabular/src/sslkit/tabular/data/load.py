"""The plugin's loader: :func:`load_data`."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.data import DomainData
from sslkit.core.errors import DataError
from sslkit.tabular.configs import TabularData
from sslkit.tabular.data.memory import _fit, from_dataframes
from sslkit.tabular.data.reading import (
    ADULT,
    ADULT_TARGET,
    REGISTERED,
    read_adult,
    read_table,
    split_mask,
)
from sslkit.tabular.data.stream import StreamedTable, _should_stream
from sslkit.tabular.schema import Schema


def load_data(config: TabularData, state: dict[str, Any] | None = None) -> DomainData:
    """Load ``config.path`` ("" or ``adult``: the embedded Adult data; else CSV or Parquet)."""
    path = config.path.strip()
    if path in ("", ADULT):
        cfg = config if config.target else replace(config, target=ADULT_TARGET)
        train, test = read_adult(config.max_rows)
        return from_dataframes(
            train,
            test,
            cfg,
            state,
            source="adult.data (embedded)",
            test_source="adult.test (embedded)",
        )
    p = Path(os.path.expanduser(path))
    if not p.exists() and not p.suffix and path.lower() in REGISTERED:
        raise DataError(f"data set {path!r} is not available")
    if not p.exists():
        raise DataError(
            "no such file",
            path=p,
            hint=f"give a CSV or Parquet file, or one of the data sets: {', '.join(REGISTERED)}",
        )
    if _should_stream(p, config):
        if config.test_path:
            raise DataError(
                "data.test_path is not supported with streamed Parquet",
                path=p,
                hint="streamed data holds out a seeded data.test_fraction of rows",
            )
        schema = Schema.from_state(state) if state is not None else None
        if schema is None:
            head = read_table(p, config.fit_rows)
            held = split_mask(np.arange(len(head)), config.split_seed, config.test_fraction)
            head = head[~held] if (~held).any() else head
            schema = _fit(head, config, str(p))
        return StreamedTable(p, config, schema)
    train = read_table(p, config.max_rows)
    test = read_table(config.test_path, config.max_rows) if config.test_path else None
    return from_dataframes(train, test, config, state, source=str(p), test_source=config.test_path)
