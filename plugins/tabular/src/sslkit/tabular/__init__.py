"""sslkit-tabular: self-supervised learning on tables (T-JEPA, SCARF, VIME).

A pandas DataFrame is pretrained on with ``sslkit.core.api.pretrain("tabular", data=df)``;
``from sslkit.tabular import from_dataframe`` turns one into sslkit data without a run.
Nothing heavy is imported here (``sslkit plugins`` must not import torch).
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_dataframe", "load_data"]


def from_dataframe(df: Any, target: str = "", **options: Any) -> Any:
    """A pandas DataFrame as :class:`sslkit.tabular.data.TabularDomainData` (see there)."""
    from sslkit.tabular.data import from_dataframe as _from_dataframe

    return _from_dataframe(df, target, **options)


def load_data(config: Any, state: Any = None) -> Any:
    from sslkit.tabular.data import load_data as _load_data

    return _load_data(config, state)
