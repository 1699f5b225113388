"""pytest fixtures (registered through the ``pytest11`` entry point of sslkit-testing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def register_plugin() -> Iterator[Any]:
    """Register plugins in-process for one test: ``register_plugin(plugin)``; all are
    unregistered afterwards."""
    from sslkit.core.plugin import register, unregister

    names: list[str] = []

    def _register(plugin: Any) -> Any:
        register(plugin)
        names.append(plugin.name)
        return plugin

    yield _register
    for name in names:
        unregister(name)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for one test: in-process runs of small models on a busy machine spend
    a second thread mostly waiting (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def only_plugins(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Limit discovery to the given domains (``SSLKIT_PLUGINS``) for one test: ``only_plugins("a")``;
    ``only_plugins()`` hides every plugin (an empty ``SSLKIT_PLUGINS`` would mean "no limit")."""

    def _only(*names: str) -> None:
        monkeypatch.setenv("SSLKIT_PLUGINS", ",".join(names) or ",")

    return _only


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the ``sslkit`` command in-process: ``code, out, err = cli("pretrain", ...)``
    (needs sslkit-cli installed)."""
    from sslkit.cli.main import run

    def _run(*args: str) -> tuple[int, str, str]:
        code = run(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return _run


_KEY = "sslkit-conformance"
_LINES: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """The summary lines a test's conformance checks wrote travel with its report, so that they
    reach the terminal also from a pytest-xdist worker."""
    outcome = yield
    if call.when == "call":
        from sslkit.testing.conformance import SUMMARY

        report = outcome.get_result()
        report.user_properties.extend((_KEY, line) for line in SUMMARY)
        SUMMARY.clear()


def pytest_runtest_logreport(report: Any) -> None:
    _LINES.extend(value for key, value in report.user_properties if key == _KEY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The conformance kit's summary lines (one per plugin checked), after the test results."""
    for line in _LINES:
        terminalreporter.write_line(line)
