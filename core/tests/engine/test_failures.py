"""Failures give one clear error (RunError, exit 2 via the CLI) and leave earlier checkpoints
intact: an existing run folder without --resume, a full disk, a read-only folder; and the
non-finite-loss guard names the step, the batch and a hint."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from engine_testlib import BASE

from sslkit.cli.main import run as cli
from sslkit.core import api
from sslkit.core.engine import checkpoint
from sslkit.testing import digits_impl
from sslkit.testing.digits import plugin

SHORT = ["--max-steps", "6", "--set", "train.checkpoint_every=2", "--no-evaluate"]


@pytest.fixture(autouse=True)
def _digits(register_plugin):
    register_plugin(plugin)


def pretrain(out: Path, *args: str) -> int:
    return cli(["pretrain", "digits", "--out", str(out), *BASE, *SHORT, *args])


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def latest_step(run_dir: Path) -> int:
    return json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]


@contextlib.contextmanager
def read_only(path: Path):
    """Make ``path`` really read-only: chmod for a normal user, ``chattr +i`` for root."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    if not shutil.which("chattr"):
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_existing_run_without_resume_is_one_clear_error(tmp_path, capsys):
    assert pretrain(tmp_path) == 0
    run_dir = tmp_path / "digits-simclr"
    before = snapshot(run_dir)
    capsys.readouterr()
    assert pretrain(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists; pass --resume" in err[0], err
    assert snapshot(run_dir) == before  # nothing was touched


def test_resume_without_a_run_is_one_clear_error(tmp_path, capsys):
    assert pretrain(tmp_path, "--resume") == 2
    assert "no digits/simclr run to continue" in capsys.readouterr().err


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    real_save = checkpoint.save_file
    seen = {}

    def full_disk(tensors, filename, metadata=None):
        if "step-00000004" in filename:
            seen["before"] = snapshot(tmp_path / "digits-simclr" / "checkpoints")
            Path(filename).write_bytes(b"\0" * 100)  # a partial file, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
        return real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    assert pretrain(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "could not write the checkpoint of step 4" in err[0]
    assert "No space left on device" in err[0] and "step-00000002 is intact" in err[0]

    ckpts = tmp_path / "digits-simclr" / "checkpoints"
    assert snapshot(ckpts) == seen["before"]  # the earlier checkpoint, byte for byte
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no temporary left
    assert latest_step(tmp_path / "digits-simclr") == 2
    loaded = api.load_run(tmp_path / "digits-simclr")  # and it loads
    assert loaded.checkpoint["step"] == 2

    monkeypatch.setattr(checkpoint, "save_file", real_save)  # space freed: continue
    assert pretrain(tmp_path, "--resume") == 0
    assert latest_step(tmp_path / "digits-simclr") == 6


def test_read_only_output_folder(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    with read_only(out):
        assert pretrain(out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the run folder" in err[0], err
    assert "choose a writable --out" in err[0]


def test_checkpoints_folder_turning_read_only_mid_run(tmp_path, monkeypatch, capsys):
    ckpts = tmp_path / "digits-simclr" / "checkpoints"
    stack = contextlib.ExitStack()

    def lock_after_step_2(self, step, total):
        if step == 2:  # 0-based: after the checkpoint of step 2 was written
            stack.enter_context(read_only(ckpts))

    monkeypatch.setattr(digits_impl.DigitsSimCLR, "on_train_step_end", lock_after_step_2)
    with stack:
        code = pretrain(tmp_path)
        before = snapshot(ckpts)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write the checkpoint of step 4" in err[0], err
    assert snapshot(ckpts) == before and latest_step(tmp_path / "digits-simclr") == 2


def test_non_finite_loss_from_the_data_names_step_batch_and_data(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(300, 64))
    x[5, 3] = np.nan
    np.savez(tmp_path / "bad.npz", x=x)
    assert pretrain(tmp_path / "runs", "--data", str(tmp_path / "bad.npz")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "loss is nan at step 1 (epoch 0), batch 0 of the epoch" in err[0]
    assert "the batch itself holds NaN or inf values" in err[0]
    run_dir = tmp_path / "runs" / "digits-simclr"
    assert (run_dir / "nonfinite_batch.safetensors").is_file()
    assert not (run_dir / "checkpoints" / "latest.json").exists()


def test_non_finite_loss_with_finite_data_hints_at_the_training_setup(tmp_path, capsys):
    assert pretrain(tmp_path, "--set", "method.temperature=1e-45") == 2  # logits overflow
    err = capsys.readouterr().err.strip()
    assert "loss is nan at step" in err and "lower train.lr" in err
    assert "holds NaN" not in err
