"""The conformance kit on the digits reference plugin, and that it catches a broken method."""

from __future__ import annotations

import dataclasses

import pytest

from sslkit.core.plugin import Registry
from sslkit.testing import check_plugin
from sslkit.testing.digits import plugin as digits


def test_check_plugin_passes_on_the_digits_plugin(tmp_path):
    reports = check_plugin(digits, workdir=tmp_path, export_formats=("parquet", "npy"))
    tasks = reports["simclr"]["tasks"]
    assert 0.0 <= tasks["knn"]["accuracy"] <= 1.0
    assert tasks["representation"]["rankme"] > 1.0


def _nondeterministic_embed(method, inputs):
    import torch

    return method.encoder(inputs) + torch.randn(inputs.shape[0], method.embed_dim)


def build_noisy(cfg, data):
    from sslkit.testing.digits_impl import build_simclr

    method = build_simclr(cfg, data)
    method.embed = lambda inputs: _nondeterministic_embed(method, inputs)
    return method


def test_check_plugin_fails_when_embeddings_do_not_reproduce(tmp_path):
    spec = dataclasses.replace(digits.methods["simclr"], build=build_noisy)
    noisy = dataclasses.replace(
        digits, name="noisydigits", methods=Registry("method", [spec]), presets=""
    )
    with pytest.raises(AssertionError):
        check_plugin(noisy, workdir=tmp_path)


def test_check_plugin_rejects_an_empty_plugin():
    empty = dataclasses.replace(digits, methods=Registry("method", []), default_method="")
    with pytest.raises(AssertionError, match="registers no method"):
        check_plugin(empty)


def test_fixture_registers_only_for_the_test(register_plugin):
    from sslkit.core.plugin import entries

    register_plugin(digits)
    assert "digits" in entries()


def test_fixture_cleaned_up():
    from sslkit.core.plugin import entries

    assert "digits" not in entries()


def test_only_plugins_fixture(only_plugins):
    from sslkit.core.plugin import entries

    only_plugins("nothing-here")
    assert entries() == {}
