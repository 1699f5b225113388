"""The `sslkit` command line end to end (in-process with the digits reference plugin)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib

import pytest

from sslkit.testing.digits import plugin as digits

FAST = ["--max-steps", "3", "--epochs", "1", "--quiet"]


def _modules_after(args: list[str], env_extra: dict | None = None) -> list[str]:
    code = textwrap.dedent(
        f"""
        import sys
        from sslkit.cli.main import run
        code = run({args!r})
        heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "sslkit.tabular", "sslkit.graphs", "sslkit.events", "pandas", "sklearn")))
        print("HEAVY=" + ",".join(heavy))
        sys.exit(code)
        """
    )
    import os

    env = {**os.environ, **(env_extra or {})}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("HEAVY=")][-1]
    return [m for m in line[6:].split(",") if m]


def test_help_imports_no_torch_and_no_plugin():
    assert _modules_after(["--help"]) == []
    assert _modules_after(["pretrain", "--help"]) == []


def test_plugins_listing_imports_no_torch():
    heavy = _modules_after(["plugins"])
    assert not [m for m in heavy if m == "torch" or m.startswith("torch.")], heavy


def test_unknown_domain_one_line_exit_2(cli):
    code, out, err = cli("pretrain", "nope")
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown domain 'nope'; installed:" in err
    assert "Traceback" not in err + out


def test_unknown_method_preset_and_key(cli, register_plugin):
    register_plugin(digits)
    code, _, err = cli("pretrain", "digits", "--method", "byol")
    assert code == 2 and "unknown method 'byol'; available: simclr" in err
    code, _, err = cli("pretrain", "digits", "--preset", "huge")
    assert code == 2 and "unknown preset 'huge' for digits/simclr; available: default, long" in err
    code, _, err = cli("pretrain", "digits", "--set", "tempreature=0.1")
    assert (
        code == 2
        and "unknown key 'tempreature'; valid keys:" in err
        and "method.temperature" in err
    )
    assert "Traceback" not in err


def test_debug_shows_the_traceback(cli, register_plugin):
    register_plugin(digits)
    code, _, err = cli("--debug", "pretrain", "digits", "--set", "nokey=1")
    assert code == 2 and "Traceback" in err and "ConfigError" in err


def test_method_options_come_from_the_config_dataclass(cli, register_plugin):
    register_plugin(digits)
    code, out, _ = cli("pretrain", "digits", "--help")
    assert code == 0
    assert "--embed-dim" in out and "Width of the embedding. [default: 32]" in " ".join(out.split())
    assert "--temperature" in out and "--set" in out and "--preset" in out
    flat = " ".join(out.split())
    assert (
        "Passes over the data (replaces the preset's step budget). [default: 5]" in flat
    )  # the method's `default` preset, not TrainConfig's 10


def test_pretrain_evaluate_export_through_the_cli(cli, register_plugin, tmp_path):
    register_plugin(digits)
    code, out, err = cli(
        "pretrain",
        "digits",
        *FAST,
        "--out",
        str(tmp_path),
        "--embed-dim",
        "16",
        "--set",
        "train.seed=7",
    )
    assert code == 0, err
    assert "knn: accuracy=" in out
    run_dir = tmp_path / "digits-simclr"
    saved = tomllib.loads((run_dir / "config.toml").read_text())
    assert saved["run"] == {"domain": "digits", "method": "simclr"}
    assert (
        saved["method"]["embed_dim"] == 16
        and saved["train"]["seed"] == 7
        and saved["train"]["max_steps"] == 3
    )
    assert saved["train"]["batch_size"] == 128  # from the method's `default` preset

    code, out, err = cli("pretrain", "digits", *FAST, "--out", str(tmp_path))
    assert code == 2 and "already exists; pass --resume" in err

    code, out, err = cli("evaluate", str(run_dir), "--task", "knn")
    assert code == 0, err
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert report["tasks"]["knn"]["accuracy"] > 0.5  # ten digit classes: chance is 0.1

    code, out, err = cli("export", str(run_dir), "--to", "parquet")
    assert code == 0, err
    assert (run_dir / "export" / "parquet" / "embeddings.parquet").is_file()


def test_print_config_and_config_file(cli, register_plugin, tmp_path):
    register_plugin(digits)
    code, out, _ = cli("presets", "digits")
    assert code == 0 and "digits/simclr: default, long" in out
    target = tmp_path / "mine.toml"
    code, out, err = cli("presets", "digits", "--copy", "long", "--to", str(target))
    assert code == 0, err
    code, out, err = cli("pretrain", "digits", "--config", str(target), "--print-config")
    assert code == 0, err
    printed = tomllib.loads(out)
    assert printed["train"]["epochs"] == 30 and printed["method"]["embed_dim"] == 64
    code, _, err = cli("presets", "digits", "--copy", "long", "--to", str(target))
    assert code == 2 and "already exists" in err


def test_broken_installed_plugin_is_listed_with_its_error(tmp_path):
    """A real installed distribution whose plugin module fails to import."""
    dist = tmp_path / "sslkit_ghost-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sslkit-ghost\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[sslkit.plugins]\nghost = sslkit_ghost_mod:plugin\n")
    (tmp_path / "sslkit_ghost_mod.py").write_text(
        "raise ImportError('needs libghost 3, install it')\n"
    )
    import os

    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "250"}
    out = subprocess.run(
        [sys.executable, "-m", "sslkit.cli", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "ghost" in text and "broken: ImportError: needs libghost 3" in text
    assert "tabular" in text  # the others are still listed
    run = subprocess.run(
        [sys.executable, "-m", "sslkit.cli", "pretrain", "ghost"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 2 and "plugin 'ghost' is installed but broken" in run.stderr


@pytest.mark.parametrize("args", [["--version"]])
def test_version(cli, args):
    code, out, _ = cli(*args)
    assert code == 0 and out.startswith("sslkit 0.")
