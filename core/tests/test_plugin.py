from __future__ import annotations

import pytest

from sslkit.core import plugin as plugin_mod
from sslkit.core.errors import UsageError
from sslkit.core.plugin import (
    PluginEntry,
    Registry,
    entries,
    get_plugin,
    resolve,
    unknown_domain,
)
from sslkit.testing.digits import plugin as digits


def test_registry_unknown_name_lists_available():
    reg = Registry("method", digits.methods.values())
    assert list(reg) == ["simclr"] and len(reg) == 1
    with pytest.raises(UsageError, match="unknown method 'x'; available: simclr"):
        reg["x"]
    assert "simclr" in reg and "x" not in reg and reg.get("x") is None
    with pytest.raises(ValueError, match="duplicate"):
        Registry("method", [digits.methods["simclr"], digits.methods["simclr"]])


def test_resolve_imports_lazily():
    assert resolve("sslkit.testing.digits_impl:load_data").__name__ == "load_data"
    assert resolve(len) is len


def test_register_and_unregister_in_process(register_plugin):
    register_plugin(digits)
    assert get_plugin("digits") is digits
    assert entries()["digits"].distribution == "<in-process>"


def test_unregistered_plugin_is_unknown():
    with pytest.raises(UsageError, match="unknown domain 'digits'"):
        get_plugin("digits")


def test_broken_plugin_reports_its_error_and_others_still_work(monkeypatch, register_plugin):
    register_plugin(digits)
    broken = PluginEntry("ghost", "sslkit_no_such_module.plugin:plugin", "sslkit-ghost", "9.9")
    monkeypatch.setitem(plugin_mod._extra, "ghost", broken)
    assert broken.load() is None
    assert "ModuleNotFoundError" in broken.error and "sslkit_no_such_module" in broken.error
    with pytest.raises(
        UsageError, match="plugin 'ghost' is installed but broken: ModuleNotFoundError"
    ):
        get_plugin("ghost")
    assert get_plugin("digits") is digits


def test_wrong_object_or_api_version_is_broken(monkeypatch):
    wrong = PluginEntry("w", "sslkit.core.plugin:API_VERSION", "sslkit-w", "1")
    assert wrong.load() is None and "not an sslkit Plugin" in wrong.error


def test_allowlist_env_limits_discovery(monkeypatch, register_plugin):
    register_plugin(digits)
    monkeypatch.setenv("SSLKIT_PLUGINS", "tabular")
    assert "digits" not in entries()
    with pytest.raises(UsageError, match="limited by SSLKIT_PLUGINS"):
        get_plugin("digits")
    monkeypatch.setenv("SSLKIT_PLUGINS", "digits")
    assert list(entries()) == ["digits"]


def test_presets_listed_and_read():
    assert digits.preset_names("simclr") == ["default", "long"]
    assert "epochs = 30" in digits.preset_text("simclr", "long")


def test_empty_allowlist_env_is_no_limit(monkeypatch, register_plugin):
    register_plugin(digits)
    monkeypatch.setenv("SSLKIT_PLUGINS", "")
    assert "digits" in entries() and get_plugin("digits") is digits
    monkeypatch.setenv("SSLKIT_PLUGINS", "  ")
    assert "digits" in entries()


def test_unknown_domain_names_the_allowlist_and_its_value(monkeypatch, register_plugin):
    register_plugin(digits)
    monkeypatch.setenv("SSLKIT_PLUGINS", "tabular,graphs")
    with pytest.raises(UsageError) as info:
        get_plugin("digits")
    assert "unknown domain 'digits'" in str(info.value)
    assert "limited by SSLKIT_PLUGINS=graphs,tabular" in str(info.value)
    monkeypatch.delenv("SSLKIT_PLUGINS")
    assert "limited by" not in str(unknown_domain("nope"))
