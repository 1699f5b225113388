"""Shared fixtures: a user's own interaction file (string ids, duplicates, a user with one
interaction, timestamps as dates) written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

USER_CSV = """customer,product,when,stars
alice,p1,2024-01-01,5
alice,p2,2024-01-02,4
alice,p1,2024-01-03,5
alice,p3,2024-01-04,3
alice,p4,2024-01-05,5
bob,p2,2024-01-01,2
bob,p3,2024-01-03,5
bob,p5,2024-01-02,4
carol,p1,2024-02-01,5
dave,p4,2024-01-01,5
dave,p5,2024-01-07,5
dave,p2,2024-01-03,1
dave,p6,2024-01-09,5
"""
"""Alice bought p1 twice (a duplicate), Carol once (stays in training), Bob's rows are out of
time order, p6 is bought only at the end (its only interaction is a test one)."""


@pytest.fixture
def user_csv(tmp_path) -> Path:
    path = tmp_path / "purchases.csv"
    path.write_text(USER_CSV)
    return path
