"""Cleaning and splitting interactions: duplicates, too-rare users and items, and per-user
splits (temporal, leave-k-out, random) into train, validation and test.

Everything works on an interaction frame (``user``, ``item``, ``time``, ``row``) with vectorised
pandas/numpy; the order of a user's interactions is their time (ties and missing times: the
file's order), or a seeded random order for the random split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def deduplicate(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per (user, item): the earliest (by time, then file order); and how many
    repeated rows were dropped."""
    ordered = frame.sort_values(["time", "row"], kind="stable", na_position="last")
    kept = ordered.drop_duplicates(["user", "item"], keep="first")
    return kept.sort_values("row", kind="stable").reset_index(drop=True), len(frame) - len(kept)


def filter_rare(
    frame: pd.DataFrame, min_user: int, min_item: int, rounds: int = 20
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop users with fewer than ``min_user`` and items with fewer than ``min_item``
    interactions, repeatedly until both hold (a k-core); counts of what was dropped."""
    users0, items0, rows0 = frame["user"].nunique(), frame["item"].nunique(), len(frame)
    for _ in range(rounds):
        if min_user <= 1 and min_item <= 1:
            break
        uc = frame["user"].map(frame["user"].value_counts())
        ic = frame["item"].map(frame["item"].value_counts())
        keep = (uc >= min_user) & (ic >= min_item)
        if keep.all():
            break
        frame = frame[keep.to_numpy()]
    counts = {
        "users_filtered": users0 - frame["user"].nunique(),
        "items_filtered": items0 - frame["item"].nunique(),
        "interactions_filtered": rows0 - len(frame),
    }
    return frame.reset_index(drop=True), counts


def _order_keys(frame: pd.DataFrame, by_time: bool, seed: int) -> np.ndarray:
    """The position of each row in its user's sequence (0 = first)."""
    if by_time:
        key = frame["time"].to_numpy(dtype=np.float64)
        key = np.where(np.isnan(key), np.inf, key)
    else:
        key = np.random.default_rng(seed).random(len(frame))
    order = np.lexsort((frame["row"].to_numpy(), key, frame["user"].to_numpy()))
    position = np.empty(len(frame), np.int64)
    users = frame["user"].to_numpy()[order]
    starts = np.r_[True, users[1:] != users[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    position[order] = np.arange(len(order)) - group_start
    return position


def held_out(
    frame: pd.DataFrame, kind: str, fraction: float, k: int, seed: int, by_time: bool
) -> np.ndarray:
    """Boolean mask of the rows held out of ``frame`` for each user.

    ``temporal`` (or ``random``): the last ``round(fraction * n)`` of a user's ``n``
    interactions by time (by a random order), at least one when ``n >= 2``, never all;
    ``leave_k_out``: the last ``k`` (users with at most ``k`` interactions keep them all)."""
    if len(frame) == 0 or (kind != "leave_k_out" and fraction <= 0):
        return np.zeros(len(frame), bool)
    position = _order_keys(frame, by_time and kind != "random", seed)
    n = frame["user"].map(frame["user"].value_counts()).to_numpy()
    if kind == "leave_k_out":
        n_held = np.where(n > k, k, 0)
    else:
        n_held = np.clip(np.maximum(np.round(fraction * n), 1), 0, n - 1).astype(np.int64)
    return position >= n - n_held


def index_of(ids: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The row of each id in ``known`` (sorted or not), -1 for an id not in it."""
    if len(known) == 0:
        return np.full(len(ids), -1, np.int64)
    order = np.argsort(known, kind="stable")
    pos = np.searchsorted(known[order], ids)
    pos = np.minimum(pos, len(known) - 1)
    found = known[order][pos] == ids
    return np.where(found, order[pos], -1)


def id_order(ids: np.ndarray) -> np.ndarray:
    """Unique ids, numerically sorted when every id is a whole number (LightGCN's 0-based ids
    keep their numbers as rows), else in order of first appearance."""
    unique, first = np.unique(ids, return_index=True)
    if len(unique) and all(s.isdigit() for s in unique[: min(len(unique), 1000)]):
        if all(s.isdigit() for s in unique):
            return unique[np.argsort(unique.astype(np.int64), kind="stable")]
    return unique[np.argsort(first, kind="stable")]
