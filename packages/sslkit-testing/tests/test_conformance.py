"""The conformance kit on the digits reference plugin, and that it catches a broken method."""

from __future__ import annotations

import dataclasses

import pytest

from sslkit.core.plugin import Registry
from sslkit.testing import check_plugin
from sslkit.testing.digits import plugin as digits


@pytest.mark.conformance
def test_check_plugin_passes_on_the_digits_plugin(tmp_path, capsys):
    reports = check_plugin(digits, workdir=tmp_path)
    tasks = reports["simclr"]["tasks"]
    assert tasks["knn"]["accuracy"] > 0.5  # ten balanced classes: chance is 0.1
    assert tasks["representation"]["rankme"] > 1.0
    assert "conformance: digits: 1 methods x 5 paths passed" in capsys.readouterr().out
    assert {"ddp", "resume", "onnx", "faiss", "safetensors"} <= set(
        reports["simclr"]["conformance_seconds"]
    )


def _nondeterministic_embed(method, inputs):
    import torch

    return method.encoder(inputs) + torch.randn(inputs.shape[0], method.embed_dim)


def build_noisy(cfg, data):
    from sslkit.testing.digits_impl import build_simclr

    method = build_simclr(cfg, data)
    method.embed = lambda inputs: _nondeterministic_embed(method, inputs)
    return method


@pytest.mark.conformance
def test_check_plugin_fails_when_embeddings_do_not_reproduce(tmp_path):
    spec = dataclasses.replace(digits.methods["simclr"], build=build_noisy)
    noisy = dataclasses.replace(
        digits, name="noisydigits", methods=Registry("method", [spec]), presets=""
    )
    with pytest.raises(AssertionError):
        check_plugin(noisy, workdir=tmp_path, paths=("export",))


def build_forgetful(cfg, data):
    """A method that learns a shift its checkpoint does not hold (a non-persistent buffer):
    the reloaded run embeds differently from the model that was trained."""
    import torch

    from sslkit.testing.digits_impl import build_simclr

    method = build_simclr(cfg, data)
    method.register_buffer("shift", torch.zeros(method.embed_dim), persistent=False)

    def step_end(step, total):
        method.shift.fill_(1.0)

    method.on_train_step_end = step_end
    method.embed = lambda inputs: method.encoder(inputs) + method.shift
    return method


@pytest.mark.conformance
def test_check_plugin_compares_the_export_with_the_trained_model(tmp_path):
    spec = dataclasses.replace(digits.methods["simclr"], build=build_forgetful)
    forgetful = dataclasses.replace(
        digits, name="forgetfuldigits", methods=Registry("method", [spec]), presets=""
    )
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_plugin(forgetful, workdir=tmp_path, paths=("export",))


@pytest.mark.conformance
def test_check_plugin_removes_its_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    check_plugin(digits, paths=("export",), export_formats=("parquet",))
    # torchinductor_<user> is torch's own process-wide compile cache (some torch versions make
    # it during the ONNX export), not a folder of check_plugin's
    left = [p for p in scratch.iterdir() if not p.name.startswith("torchinductor_")]
    assert left == []


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
    only_plugins()  # no name: still nothing (an empty SSLKIT_PLUGINS would mean no limit)
    assert entries() == {}


@pytest.mark.conformance
def test_check_plugin_fails_on_a_parameter_no_step_uses(tmp_path):
    from sslkit.testing.faulty import unused_parameter

    with pytest.raises(AssertionError, match="under 2-process DDP"):
        check_plugin(unused_parameter, workdir=tmp_path, paths=("ddp",))


@pytest.mark.conformance
def test_check_plugin_fails_when_a_resumed_run_draws_other_views(tmp_path):
    from sslkit.testing.faulty import private_rng

    with pytest.raises(AssertionError, match="differ from the uninterrupted run"):
        check_plugin(private_rng, workdir=tmp_path, paths=("resume",))


@pytest.mark.conformance
def test_check_plugin_fails_on_a_dtype_mix_only_autocast_makes(tmp_path):
    from sslkit.testing.faulty import mixed_precision

    with pytest.raises(AssertionError, match="under bf16 autocast: RuntimeError: index_add"):
        check_plugin(mixed_precision, workdir=tmp_path, paths=("bf16",))


@pytest.mark.conformance
def test_check_plugin_fails_when_the_plugin_module_imports_torch(tmp_path):
    from sslkit.testing.faulty_heavy import plugin as heavy

    with pytest.raises(AssertionError, match="loads \\['torch"):
        check_plugin(heavy, workdir=tmp_path, paths=("import",))
