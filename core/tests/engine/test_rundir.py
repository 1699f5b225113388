"""The run folder: a failed start is started over in place; --resume keeps the saved config
(only epochs / max_steps may be extended, anything else passed differently is one error);
paths are saved absolute; files get the usual mode, not mkstemp's 0600."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from engine_testlib import BASE

from sslkit.cli.main import run as cli
from sslkit.core import api
from sslkit.core.engine.rundir import RunDir, atomic_write_text
from sslkit.core.errors import RunError
from sslkit.testing.digits import plugin

SHORT = ["--max-steps", "4", "--no-evaluate"]
NAN = ["--set", "method.temperature=1e-45"]  # the loss overflows at step 1: no checkpoint


@pytest.fixture(autouse=True)
def _digits(register_plugin):
    register_plugin(plugin)


def pretrain(out: Path, *args: str) -> int:
    return cli(["pretrain", "digits", "--out", str(out), *BASE, *SHORT, *args])


def saved(run_dir: Path) -> dict:
    return tomllib.loads((run_dir / "config.toml").read_text())


def latest_step(run_dir: Path) -> int:
    return json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]


def test_create_reuses_a_folder_without_checkpoint_and_says_so(tmp_path):
    folder = tmp_path / "r"
    (folder / "checkpoints" / ".step-00000001.tmp").mkdir(parents=True)
    (folder / "config.toml").write_text("[run]\n")
    (folder / "metrics.jsonl").write_text('{"step": 1}\n')
    (folder / "nonfinite_batch.safetensors").write_bytes(b"x")
    lines: list[str] = []
    run = RunDir.create(tmp_path, "r", log=lines.append)
    assert run.path == folder
    assert len(lines) == 1 and "stopped before its first checkpoint" in lines[0]
    assert "config.toml is replaced" in lines[0]
    left = sorted(p.name for p in folder.iterdir())
    assert left == ["config.toml"]  # stale files of the failed start are gone

    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "latest.json").write_text("{}")
    with pytest.raises(RunError, match="already exists; pass --resume"):
        RunDir.create(tmp_path, "r")


def test_failed_start_then_same_name_with_new_options_starts_over(tmp_path, capsys):
    assert pretrain(tmp_path, *NAN) == 2
    run_dir = tmp_path / "digits-simclr"
    assert (run_dir / "config.toml").is_file() and not (run_dir / "checkpoints").exists()
    capsys.readouterr()

    assert pretrain(tmp_path, "--batch-size", "32") == 0  # no --resume needed
    config = saved(run_dir)
    assert config["train"]["batch_size"] == 32  # what was passed this time
    assert config["method"]["temperature"] != 1e-45
    assert latest_step(run_dir) == 4
    assert not (run_dir / "nonfinite_batch.safetensors").exists()


def test_failed_start_message_reaches_the_log(tmp_path, capsys):
    assert pretrain(tmp_path, *NAN) == 2
    capsys.readouterr()
    cfg = api.resolve_config(
        "digits", options={"train.out": str(tmp_path), "train.max_steps": 2}, overrides=[]
    )
    lines: list[str] = []
    api.pretrain(cfg, evaluate_default_task=False, log=lambda *a: lines.append(str(a[0])))
    assert any("starting over" in line for line in lines), lines


def test_resume_refuses_other_options_naming_saved_and_passed(tmp_path, capsys):
    assert pretrain(tmp_path) == 0
    run_dir = tmp_path / "digits-simclr"
    before = (run_dir / "config.toml").read_text()
    capsys.readouterr()
    code = pretrain(tmp_path, "--resume", "--batch-size", "32", "--set", "method.noise=0.3")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "train.batch_size (saved 64, passed 32)" in err[0]
    assert "method.noise (saved 0.1, passed 0.3)" in err[0]
    assert "start a new run" in err[0]
    assert (run_dir / "config.toml").read_text() == before


def test_resume_with_the_same_options_again_is_fine(tmp_path):
    assert pretrain(tmp_path) == 0
    assert pretrain(tmp_path, "--resume") == 0  # nothing passed: the saved config
    assert latest_step(tmp_path / "digits-simclr") == 4


def test_resume_extends_max_steps_and_epochs(tmp_path, capsys):
    assert pretrain(tmp_path, "--epochs", "2") == 0
    run_dir = tmp_path / "digits-simclr"
    assert latest_step(run_dir) == 4
    capsys.readouterr()
    assert pretrain(tmp_path, "--resume", "--max-steps", "9", "--epochs", "3") == 0
    assert latest_step(run_dir) == 9
    config = saved(run_dir)
    assert config["train"]["max_steps"] == 9 and config["train"]["epochs"] == 3


def test_resume_refuses_another_method_option_set_in_a_file(tmp_path, capsys):
    assert pretrain(tmp_path) == 0
    f = tmp_path / "c.toml"
    f.write_text("[method]\nembed_dim = 16\n")
    capsys.readouterr()
    assert pretrain(tmp_path, "--resume", "--config", str(f)) == 2
    assert "method.embed_dim (saved 32, passed 16)" in capsys.readouterr().err


def test_relative_out_and_data_are_saved_absolute(tmp_path, monkeypatch):
    import numpy as np

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    x = np.random.default_rng(0).normal(size=(300, 64))
    np.savez(work / "mine.npz", x=x, y=np.arange(300) % 3)
    assert cli(["pretrain", "digits", "--out", "runs", "--data", "mine.npz", *BASE, *SHORT]) == 0
    run_dir = work / "runs" / "digits-simclr"
    config = saved(run_dir)
    assert config["data"]["path"] == str(work / "mine.npz")
    assert config["train"]["out"] == str(work / "runs")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = api.load_run(run_dir)  # finds its data from another working directory
    assert len(loaded.data.x) == 300


@pytest.fixture
def umask_002():
    """umask 002 (group-writable files): 0664 is neither mkstemp's 0600 nor a fixed 0644."""
    previous = os.umask(0o002)
    yield
    os.umask(previous)


def test_run_files_follow_the_umask(tmp_path, umask_002):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o664
    assert pretrain(tmp_path) == 0
    run_dir = tmp_path / "digits-simclr"
    api.export(run_dir, to="safetensors")  # safetensors' writer makes its files 0600
    api.export(run_dir, to="npy")
    api.evaluate(run_dir, "representation")
    made = [run_dir, *run_dir.rglob("*")]
    assert {"last.safetensors", "model.safetensors", "backbone.safetensors", "report.md"} <= {
        p.name for p in made
    }
    wrong = {
        str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777)
        for p in made
        if not p.is_symlink() and p.stat().st_mode & 0o777 != (0o775 if p.is_dir() else 0o664)
    }
    assert wrong == {}


def test_initial_method_is_seeded_by_train_seed():
    """The untrained control of a benchmark: the same ``train.seed`` builds the same weights
    (those ``pretrain`` starts from), another seed other weights."""
    import torch

    def weights(seed: int) -> dict[str, torch.Tensor]:
        cfg = api.resolve_config("digits", "simclr", overrides=[f"train.seed={seed}"])
        return api.initial_method(cfg)[1].state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())
