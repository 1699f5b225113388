"""The conformance summary lines reach the terminal, also from pytest-xdist workers."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TEST = """
from sslkit.testing.conformance import SUMMARY

def test_a():
    SUMMARY.append("conformance: a: 1 methods x 4 paths passed")

def test_b():
    SUMMARY.append("conformance: b: 2 methods x 4 paths passed")
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_summary_lines_are_printed_once_each(pytester: pytest.Pytester, workers) -> None:
    pytester.makepyfile(test_kit=TEST)
    result = pytester.runpytest_subprocess(*workers, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    lines = [line for line in result.outlines if line.startswith("conformance: ")]
    assert sorted(lines) == [
        "conformance: a: 1 methods x 4 paths passed",
        "conformance: b: 2 methods x 4 paths passed",
    ]
