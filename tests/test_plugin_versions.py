"""A plugin's version is its distribution's: one number, the one its wheel was built with."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from sslkit.core.plugin import distribution_version, entries, get_plugin


def test_every_installed_plugin_reports_its_distribution_version():
    found = entries()
    assert found, "no plugin installed"
    for name, entry in found.items():
        assert get_plugin(name).version == version(entry.distribution), name


def test_a_distribution_that_is_not_installed_has_an_unknown_version():
    assert distribution_version("sslkit-no-such-plugin") == "0+unknown"


@pytest.mark.parametrize("field", ["commands"])
def test_the_plugin_contract_has_no_unwired_fields(field):
    from sslkit.core.plugin import Plugin

    assert field not in Plugin.__dataclass_fields__
