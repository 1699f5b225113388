"""Shared fixtures: a user's own interaction file (string ids, duplicates, a user with one
interaction, timestamps as dates) written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

USER_CSV = (Path(__file__).parent / "purchases.csv").read_text()
"""Alice bought p1 twice (a duplicate), Carol once (stays in training), Bob's rows are out of
time order, p6 is bought only at the end (its only interaction is a test one)."""


@pytest.fixture
def user_csv(tmp_path) -> Path:
    path = tmp_path / "purchases.csv"
    path.write_text(USER_CSV)
    return path
