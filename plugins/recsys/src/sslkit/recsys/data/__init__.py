"""Reading interactions into an :class:`InteractionData`: ``load_data`` (files and the embedded
Online Retail purchases) and ``from_memory`` (a pandas DataFrame)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError, UsageError
from sslkit.recsys.data.domain import InteractionData, normalized_adjacency
from sslkit.recsys.data.features import FeatureTable, features_for
from sslkit.recsys.data.reading import ITEM_NAMES, USER_NAMES, Interactions, from_frame, read_path
from sslkit.recsys.data.splits import deduplicate, filter_rare, held_out, id_order, index_of

__all__ = [
    "FeatureTable",
    "InteractionData",
    "from_memory",
    "load_data",
    "normalized_adjacency",
    "prepare",
]


def load_data(config: Any, state: dict | None = None) -> InteractionData:
    """The interactions of ``config.path`` (and ``config.test_path``), cleaned and split;
    ``state`` (a run's saved id maps) keeps the rows of users and items as in training."""
    inter = read_path(config.path, config)
    test = read_path(config.test_path, config) if config.test_path else None
    return prepare(inter, config, state, test)


def from_memory(obj: Any, config: Any, state: dict | None = None) -> InteractionData:
    """A pandas DataFrame of interactions (one row each; columns as for a file)."""
    if not isinstance(obj, pd.DataFrame):
        raise DataError(
            f"recsys takes a pandas DataFrame of interactions in memory, not {type(obj).__name__}"
        )
    source = f"<in-memory DataFrame {obj.shape[0]}x{obj.shape[1]}>"
    test = read_path(config.test_path, config) if config.test_path else None
    return prepare(from_frame(obj.reset_index(drop=True), config, source), config, state, test)


def _split_kind(config: Any, has_time: bool, has_test: bool) -> str:
    kind = config.split
    if has_test:
        if kind not in ("auto", "given"):
            raise UsageError(
                f"data.test_path gives the test interactions, and data.split = {kind!r} would "
                "cut another test split: leave data.split at auto (or given)"
            )
        return "given"
    if kind == "given":
        raise UsageError("data.split = given needs data.test_path (the test interactions)")
    if kind == "auto":
        return "temporal" if has_time else "random"
    if kind == "temporal" and not has_time:
        raise UsageError(
            "data.split = temporal needs a time for every interaction and this data has none: "
            "name the column with data.time_column, or choose data.split = random or leave_k_out"
        )
    return kind


def _map(frame: pd.DataFrame, users: np.ndarray, items: np.ndarray):
    u = index_of(frame["user"].to_numpy(dtype=str), users)
    i = index_of(frame["item"].to_numpy(dtype=str), items)
    ok = (u >= 0) & (i >= 0)
    return (u[ok], i[ok]), ok


def prepare(
    inter: Interactions, config: Any, state: dict | None = None, test: Interactions | None = None
) -> InteractionData:
    frame = inter.frame
    counts: dict[str, Any] = {"rows": len(frame), **inter.dropped}
    if config.max_users > 0:
        first = pd.unique(frame["user"])[: config.max_users]
        frame = frame[frame["user"].isin(first)].reset_index(drop=True)
    frame, counts["duplicates"] = deduplicate(frame)
    frame, filtered = filter_rare(frame, config.min_user_interactions, config.min_item_interactions)
    counts.update(filtered)
    if len(frame) == 0:
        raise DataError(
            "no interactions left after filtering rare users and items",
            path=inter.source,
            hint="lower data.min_user_interactions / data.min_item_interactions",
        )
    has_time = bool(frame["time"].notna().any())
    kind = _split_kind(config, has_time, test is not None)
    counts["split"] = kind
    if kind == "given":
        test_frame, counts["test_duplicates"] = deduplicate(test.frame)
        train = frame
    else:
        held = held_out(
            frame, kind, config.test_fraction, config.leave_k, config.seed, by_time=has_time
        )
        train, test_frame = frame[~held], frame[held]
    train, test_frame, cold_frame = cold_split(train, test_frame, config)
    counts["cold_items"] = int(cold_frame["item"].nunique())
    vkind = kind if kind != "given" else ("temporal" if has_time else "random")
    vheld = held_out(
        train, vkind, config.val_fraction, config.leave_k, config.seed + 1, by_time=has_time
    ) if config.val_fraction > 0 else np.zeros(len(train), bool)  # fmt: skip
    fit, valid = train[~vheld], train[vheld]
    if state is not None:
        users = np.asarray(state["users"], dtype=str)
        items = np.asarray(state["items"], dtype=str)
    else:
        users = id_order(train["user"].to_numpy(dtype=str))
        items = id_order(train["item"].to_numpy(dtype=str))
        items = np.concatenate([items, np.sort(cold_frame["item"].unique()).astype(str)])
    pairs = {}
    parts = (("fit", fit), ("valid", valid), ("test", test_frame), ("cold", cold_frame))
    for name, part in parts:
        pairs[name], ok = _map(part, users, items)
        if not ok.all():
            counts[f"{name}_unknown"] = int((~ok).sum())
            if name == "test" and kind == "given" and config.unknown == "error":
                bad = part[~ok].iloc[0]
                what = "user" if bad["user"] not in set(users) else "item"
                raise DataError(
                    f"{int((~ok).sum())} test interactions name users or items never seen in "
                    f"training; the first is {what} {bad[what]!r}",
                    path=test.source,
                    row=int(bad["row"]),
                    hint="set data.unknown = drop to leave them out, counted",
                )
    if len(pairs["fit"][0]) == 0:
        raise DataError("no training interactions", path=inter.source)
    features = {
        space: features_for(
            config,
            space,
            ids,
            inter.item_table if space == "item" else None,
            tuple(n for n in (own.lower(), *names, "id") if n),
        )
        for space, ids, own, names in (
            ("item", items, inter.id_columns[1], ITEM_NAMES),
            ("user", users, inter.id_columns[0], USER_NAMES),
        )
    }
    for table in features.values():
        if table is not None:
            counts.update({k: v for k, v in table.counts.items() if v})
    return InteractionData(users, items, pairs, counts, inter.source, features,
                           warm_items=len(items) - counts["cold_items"])  # fmt: skip


def cold_split(train: pd.DataFrame, test: pd.DataFrame, config: Any):
    """``data.cold_items``: a seeded random share of the items leaves training and test with
    every interaction it has; those interactions are the ``cold`` split (cold-start items)."""
    share = float(getattr(config, "cold_items", 0.0) or 0.0)
    if share <= 0:
        return train, test, train.iloc[:0]
    if share >= 1:
        raise UsageError(f"data.cold_items = {share}: give a share of the items below 1")
    items = np.unique(np.concatenate([train["item"].to_numpy(dtype=str),
                                      test["item"].to_numpy(dtype=str)]))  # fmt: skip
    n = round(share * len(items))
    cold = set(np.random.default_rng(config.seed + 2).choice(items, n, replace=False).tolist())
    in_train, in_test = train["item"].isin(cold), test["item"].isin(cold)
    cold_frame = pd.concat([train[in_train], test[in_test]], ignore_index=True)
    return train[~in_train.to_numpy()], test[~in_test.to_numpy()], cold_frame
