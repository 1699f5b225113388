"""Shared fixtures: a private sslkit cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SSLKIT_CACHE", str(tmp_path_factory.getbasetemp() / "sslkit-cache"))
