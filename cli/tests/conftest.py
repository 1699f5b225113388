"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``code, out, err = cli("pretrain", ...)``."""
    from sslkit.cli.main import run

    def _run(*args: str):
        code = run(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return _run
