"""The plugin's loader: an event log in memory, or streamed from Parquet (``data.stream``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslkit.core.data import DomainData
from sslkit.events.configs import EventsData
from sslkit.events.data.embedded import resolve_config
from sslkit.events.data.memory import from_frame
from sslkit.events.data.preprocess import check_state_version
from sslkit.events.data.reading import read_table
from sslkit.events.data.stream import load_stream


def load_data(config: EventsData, state: dict[str, Any] | None = None) -> DomainData:
    """The plugin's loader: fit the preprocessing (``state=None``) or reuse a saved one."""
    check_state_version(config, state)
    config, dataset = resolve_config(config)
    if config.stream:
        return load_stream(config, state, dataset)
    path = Path(config.path)
    frame = read_table(path)
    return from_frame(frame, config, state=state, dataset=dataset, path=path)
