"""User errors of the CLI: one line and exit 2; options read as written."""

from __future__ import annotations

import dataclasses

import pytest

from sslkit.cli import pretrain
from sslkit.core.plugin import PluginEntry, Registry
from sslkit.testing.digits import plugin as digits

FAST = ["--max-steps", "2", "--epochs", "1", "--quiet", "--no-evaluate"]


def two_methods():
    """digits with a second method, ``other`` (the default stays simclr)."""
    simclr = digits.methods["simclr"]
    other = dataclasses.replace(simclr, name="other")
    return dataclasses.replace(
        digits, name="twodigits", methods=Registry("method", [simclr, other])
    )


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["-mother"], "other"),
        (["-m", "other"], "other"),
        (["--method=other"], "other"),
        (["--method", "other"], "other"),
        (["-qmother"], "other"),
        (["-qm", "other"], "other"),
        (["--epochs", "3", "-m", "other", "--quiet"], "other"),
        (["-m", "simclr", "-mother"], "other"),  # the last one wins, as in click
        (["--name", "-m", "--epochs", "1"], None),  # -m is the value of --name
        (["--set", "-mx", "--data=-m"], None),
        (["-d", "-m"], None),
        (["-dfile", "-mother"], "other"),
        (["--", "-mother"], None),
        (["--resume", "-m", "other"], "other"),
        ([], None),
    ],
)
def test_peek_reads_the_method_as_click_would(args, want):
    assert pretrain._peek(args) == want


@pytest.mark.parametrize("spelling", [["-mother"], ["-m", "other"], ["--method=other"]])
def test_every_spelling_of_method_builds_that_methods_command(cli, register_plugin, spelling):
    register_plugin(two_methods())
    code, out, err = cli("pretrain", "twodigits", *spelling, "--print-config")
    assert code == 0, err
    assert 'method = "other"' in out


def test_method_parsed_differently_from_the_peek_is_refused(cli, register_plugin, monkeypatch):
    register_plugin(two_methods())
    monkeypatch.setattr(pretrain, "_peek", lambda args: None)  # a peek that misses it
    code, out, err = cli("pretrain", "twodigits", "-m", "other", "--print-config")
    assert code == 2 and 'method = "' not in out
    assert len(err.strip().splitlines()) == 1 and "--method other" in err
    assert "built for --method simclr" in err


def test_debug_is_stripped_only_before_the_command(cli, register_plugin):
    register_plugin(digits)
    code, out, err = cli("pretrain", "digits", "--name", "--debug", "--print-config")
    assert code == 0, err
    assert 'name = "--debug"' in out  # a value, not the switch
    code, _, err = cli("--debug", "pretrain", "digits", "--set", "nokey=1")
    assert code == 2 and "Traceback" in err and "unknown key 'nokey'" in err
    code, _, err = cli("pretrain", "digits", "--set", "nokey=1")
    assert code == 2 and "Traceback" not in err


def test_unknown_domain_message_names_the_allowlist(cli, register_plugin, monkeypatch):
    register_plugin(digits)
    monkeypatch.setenv("SSLKIT_PLUGINS", "tabular")
    code, _, err = cli("pretrain", "digits", "--help")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown domain 'digits'" in err and "limited by SSLKIT_PLUGINS=tabular" in err
    monkeypatch.setenv("SSLKIT_PLUGINS", "")  # set but empty: no limit
    code, _, err = cli("pretrain", "digits", "--print-config")
    assert code == 0, err


def test_plugins_listing_and_pretrain_help_name_what_the_allowlist_hides(
    cli, register_plugin, monkeypatch
):
    register_plugin(digits)
    monkeypatch.setenv("SSLKIT_PLUGINS", "nosuch")
    code, out, _ = cli("plugins")
    assert code == 0 and "no sslkit plugins installed" not in out
    assert "limited by SSLKIT_PLUGINS=nosuch" in out and "digits" in out.split("hidden:")[1]
    code, out, _ = cli("pretrain", "--help")
    assert code == 0 and "limited by SSLKIT_PLUGINS=nosuch" in out
    monkeypatch.setenv("SSLKIT_PLUGINS", "")  # set but empty: no limit, no note
    code, out, _ = cli("plugins")
    assert code == 0 and "SSLKIT_PLUGINS" not in out and "digits" in out


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["--batch-size", "0"], "train.batch_size"),
        (["--set", "train.accumulate=0"], "train.accumulate"),
        (["--lr", "-0.01"], "train.lr"),
        (["--epochs", "-1"], "train.epochs"),
        (["--max-steps", "-5"], "train.max_steps"),
    ],
)
def test_out_of_range_train_options_are_one_line(cli, register_plugin, tmp_path, args, key):
    register_plugin(digits)
    code, out, err = cli("pretrain", "digits", "--out", str(tmp_path), *args, "--print-config")
    assert code == 2, out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "out of range" in lines[0], lines


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from sslkit.cli.main import run
    from sslkit.core.plugin import register, unregister

    out = tmp_path_factory.mktemp("runs")
    register(digits)
    try:
        assert run(["pretrain", "digits", "--out", str(out), *FAST]) == 0
    finally:
        unregister("digits")
    return out / "digits-simclr"


@pytest.mark.parametrize("command", ["evaluate", "export"])
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_device_without_cuda_is_one_line(
    cli, register_plugin, monkeypatch, digits_run, command, device
):
    import torch

    register_plugin(digits)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = cli(
        command, str(digits_run), "--device", device, "--out", str(digits_run / "x")
    )
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and f"--device {device}" in lines[0] and "--device cpu" in lines[0]


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_zero_batch_size_for_evaluate_and_export_is_a_usage_error(cli, digits_run, command):
    code, _, err = cli(command, str(digits_run), "--batch-size", "0")
    assert code == 2 and "--batch-size" in err and "Traceback" not in err


def test_presets_copy_header_names_a_non_default_method(cli, register_plugin, tmp_path):
    # simclr is not the default method of this variant: the file only works with --method simclr
    variant = dataclasses.replace(two_methods(), default_method="other")
    register_plugin(variant)
    to = tmp_path / "mine.toml"
    code, _, err = cli(
        "presets", "twodigits", "--method", "simclr", "--copy", "long", "--to", str(to)
    )
    assert code == 0, err
    header = to.read_text().splitlines()[0]
    assert f"sslkit pretrain twodigits --method simclr --config {to}" in header

    register_plugin(digits)  # its default method: no --method needed
    to = tmp_path / "default.toml"
    assert cli("presets", "digits", "--copy", "long", "--to", str(to))[0] == 0
    assert to.read_text().splitlines()[0].endswith(f"sslkit pretrain digits --config {to}")


def test_presets_copy_to_an_unwritable_path_is_one_line(cli, register_plugin, tmp_path):
    register_plugin(digits)
    to = tmp_path / "no-such-folder" / "x.toml"
    code, out, err = cli("presets", "digits", "--copy", "long", "--to", str(to))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (out, err)
    assert str(to) in lines[0] and "writable" in lines[0]


def test_plugins_table_shows_long_errors_and_names_in_full(cli, register_plugin, monkeypatch):
    from sslkit.core import plugin as plugin_mod

    register_plugin(digits)
    module = "sslkit_" + "x" * 150 + "_end_of_the_name"
    broken = PluginEntry("ghost", f"{module}:plugin", "sslkit-ghost", "9.9")
    monkeypatch.setitem(plugin_mod._extra, "ghost", broken)
    code, out, err = cli("plugins")
    assert code == 0, err
    assert "…" not in out
    status = "".join(
        line.split("│")[-2].strip() for line in out.splitlines() if line.startswith("│")
    )
    assert module in status.replace(" ", "")
