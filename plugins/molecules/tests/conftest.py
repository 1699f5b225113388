"""Shared fixtures: a private featurisation cache, and a small user CSV written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SSLKIT_CACHE", str(tmp_path_factory.getbasetemp() / "sslkit-cache"))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One torch thread for the in-process runs: the test models are small, and on a busy
    2-core machine a second thread mostly waits (a fine-tuning test: 121 s against 8 s)."""


USER_CSV = """compound,structure,active,toxic
a,CCO,1,0
b,c1ccccc1O,0,
c,[Na+].CC(=O)[O-],1,1
d,C1CC(,0,1
e,C[C@H](N)O,,0
f,c1ccncc1C,1,1
"""
"""A user's file: the SMILES under another name (``structure``), two label columns with gaps,
a salt (row 3) and one invalid SMILES (row 4, ``C1CC(``)."""


@pytest.fixture
def user_csv(tmp_path) -> Path:
    path = tmp_path / "assay.csv"
    path.write_text(USER_CSV)
    return path
