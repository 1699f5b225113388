"""The in-memory data set: :class:`TabularDomainData`, :func:`from_dataframes`, the plugin's
``from_memory`` hook and :func:`from_dataframe`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.data import DomainData, EvalBatch
from sslkit.core.errors import DataError
from sslkit.tabular.configs import TabularData
from sslkit.tabular.data.reading import read_table, split_mask
from sslkit.tabular.schema import Schema, fit_schema


class _RowDataset:
    """Map-style dataset of preprocessed rows; ``__getitems__`` returns a whole batch at once."""

    def __init__(self, num: np.ndarray, cat: np.ndarray):
        import torch

        self.num = torch.from_numpy(np.ascontiguousarray(num))
        self.cat = torch.from_numpy(np.ascontiguousarray(cat))

    def __len__(self) -> int:
        return len(self.num)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return _inputs(self.num[i], self.cat[i])

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return _inputs(self.num[idx], self.cat[idx])


def _inputs(num: Any, cat: Any) -> dict[str, Any]:
    out = {}
    if num.shape[-1]:
        out["num"] = num
    if cat.shape[-1]:
        out["cat"] = cat
    return out


class TabularDomainData(DomainData):
    """A table held in memory, preprocessed by ``schema``."""

    def __init__(
        self,
        schema: Schema,
        splits: dict[str, dict[str, np.ndarray]],
        source: str,
    ):
        self.schema = schema
        self.splits = splits
        self.source = source
        self.info = schema.info()

    # pretraining
    def train_dataset(self) -> Any:
        s = self.splits["train"]
        return _RowDataset(s["num"], s["cat"])

    def collate(self, items: Any) -> Any:
        if isinstance(items, dict):  # already a batch (``__getitems__``)
            return items
        from torch.utils.data import default_collate

        return default_collate(items)

    # evaluation
    def split_names(self) -> list[str]:
        return [name for name in ("train", "test") if name in self.splits]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[EvalBatch]:
        import torch

        if split not in self.splits:
            raise DataError(f"unknown split {split!r}; splits: {', '.join(self.split_names())}")
        s = self.splits[split]
        n = len(s["num"])
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            y = s.get("y")
            yield EvalBatch(
                ids=s["ids"][sl],
                inputs=_inputs(torch.from_numpy(s["num"][sl]), torch.from_numpy(s["cat"][sl])),
                labels=None if y is None else y[sl],
            )

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """The preprocessed ``num``, ``cat``, ``ids`` and ``y`` of one split."""
        return self.splits[split]

    def has_labels(self) -> bool:
        return self.schema.target is not None and any("y" in s for s in self.splits.values())

    def task_kind(self) -> str:
        return self.schema.target["kind"] if self.has_labels() else "none"

    def state(self) -> dict[str, Any]:
        return self.schema.to_state()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {len(v['num'])} rows" for k, v in self.splits.items())
        return f"TabularDomainData({self.source}; {sizes}; {self.schema.describe()})"


def _split_arrays(
    schema: Schema, df: pd.DataFrame, source: str, ids: np.ndarray
) -> dict[str, np.ndarray]:
    num, cat = schema.transform(df, source)
    out = {"num": num, "cat": cat, "ids": ids}
    y = schema.transform_target(df, source)
    if y is not None:
        out["y"] = y
    return out


def _ids(df: pd.DataFrame, id_column: str, offset: int) -> np.ndarray:
    if id_column and id_column in df.columns:
        values = df[id_column]
        if pd.api.types.is_integer_dtype(values):
            return values.to_numpy(np.int64)
        return values.astype(str).to_numpy()
    return np.arange(offset, offset + len(df), dtype=np.int64)


def from_dataframes(
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    config: TabularData,
    state: dict[str, Any] | None = None,
    source: str = "DataFrame",
    test_source: str = "test DataFrame",
) -> TabularDomainData:
    """Preprocess ``train`` (and ``test``, or a seeded split of ``train``) per ``config``."""
    if len(train) == 0:
        raise DataError("the table has no rows", path=source)
    train = train.reset_index(drop=True)
    rows = np.arange(len(train))
    if test is None:
        held = split_mask(rows, config.split_seed, config.test_fraction)
        fit_rows = train[~held] if (~held).any() else train
    else:
        held = None
        fit_rows = train
    if state is None:
        schema = _fit(fit_rows, config, source)
    else:
        schema = Schema.from_state(state)
    splits: dict[str, dict[str, np.ndarray]] = {}
    all_ids = _ids(train, config.id_column, 0)
    if held is None:
        splits["train"] = _split_arrays(schema, train, source, all_ids)
        test = test.reset_index(drop=True)
        splits["test"] = _split_arrays(
            schema, test, test_source, _ids(test, config.id_column, len(train))
        )
    else:
        whole = _split_arrays(schema, train, source, all_ids)
        splits["train"] = {k: v[~held] for k, v in whole.items()}
        if held.any():
            splits["test"] = {k: v[held] for k, v in whole.items()}
    return TabularDomainData(schema, splits, source)


def from_memory(
    df: pd.DataFrame, config: TabularData, state: dict[str, Any] | None = None
) -> TabularDomainData:
    """The plugin's ``from_memory`` hook: ``api.pretrain("tabular", data=df)``,
    ``api.evaluate(run, data=df)`` and ``api.export(run, data=df)`` load a DataFrame here.

    ``config`` is the run's ``[data]`` section (``target``, ``id_column``, ``exclude``, ...;
    ``path`` describes ``df``); ``data.test_path``, when set, is read as the test split,
    otherwise a seeded ``data.test_fraction`` of rows is held out. ``state`` reuses a run's
    fitted preprocessing."""
    test = read_table(config.test_path, config.max_rows) if config.test_path else None
    return _from_memory(df, test, config, state)


def _from_memory(
    df: Any, test: pd.DataFrame | None, config: TabularData, state: dict[str, Any] | None
) -> TabularDomainData:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, got {type(df).__name__}",
            hint="tabular data in memory is a pandas DataFrame, one row a sample",
        )
    if config.max_rows:
        df = df.iloc[: config.max_rows]
        test = None if test is None else test.iloc[: config.max_rows]
    source = config.path or "DataFrame"
    return from_dataframes(
        df, test, config, state, source=source, test_source=config.test_path or "test DataFrame"
    )


def from_dataframe(
    df: pd.DataFrame,
    target: str = "",
    *,
    test: pd.DataFrame | None = None,
    state: dict[str, Any] | None = None,
    **options: Any,
) -> TabularDomainData:
    """A pandas DataFrame as sslkit data, without a run: a thin wrapper of :func:`from_memory`
    (to pretrain on a DataFrame, ``api.pretrain("tabular", data=df)`` is the entry point).

    ``options`` are fields of :class:`~sslkit.tabular.configs.TabularData` (``id_column``,
    ``exclude``, ``scaling``, ...). ``test`` is a separate test DataFrame. ``state`` reuses a
    run's fitted preprocessing.
    """
    config = replace(TabularData(), target=target, **options)
    return _from_memory(df, test, config, state)


def _fit(rows: Any, config: Any, source: str) -> Schema:
    """Fit the schema and preprocessing on ``rows`` with the options of a ``TabularData``."""
    return fit_schema(
        rows,
        target=config.target,
        id_column=config.id_column,
        exclude=config.exclude,
        categorical=config.categorical,
        scaling=config.scaling,
        max_categories=config.max_categories,
        min_category_count=config.min_category_count,
        task=config.task,
        source=source,
    )
