"""Reading interactions into an :class:`InteractionData`: ``load_data`` (files and the embedded
Online Retail purchases) and ``from_memory`` (a pandas DataFrame)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sslkit.core.errors import DataError, UsageError
from sslkit.recsys.data.domain import InteractionData, normalized_adjacency
from sslkit.recsys.data.reading import Interactions, from_frame, read_path
from sslkit.recsys.data.splits import deduplicate, filter_rare, held_out, id_order, index_of

__all__ = ["InteractionData", "from_memory", "load_data", "normalized_adjacency", "prepare"]


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
    pairs = {}
    for name, part in (("fit", fit), ("valid", valid), ("test", test_frame)):
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
    return InteractionData(users, items, pairs, counts, inter.source)
