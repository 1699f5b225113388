"""An interrupted run continued with ``--resume`` reproduces the uninterrupted run exactly (CPU).

The interrupted runs are real subprocesses of the CLI: SIGTERM (the engine checkpoints at once
and exits 143) and SIGKILL (no warning: the run continues from its last interval or epoch
checkpoint, and the metrics written after it are replaced). The reference and the resumed runs
go through the same CLI in this process, on one thread like the subprocesses.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from engine_testlib import child_env, digits_cmd, losses, run_in_process, steps_logged

STEPS = [
    "--epochs",
    "100",
    "--max-steps",
    "60",
    "--set",
    "train.checkpoint_every=10",
    "--no-evaluate",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[int, float]:
    out = tmp_path_factory.mktemp("reference")
    assert run_in_process(out, *STEPS) == 0
    ref = losses(out / "digits-simclr")
    assert sorted(ref) == list(range(1, 61))
    return ref


def _start_and_wait(out: Path, at_least: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        digits_cmd(out, *STEPS, *extra),
        env=child_env(SSLKIT_TEST_STEP_SLEEP="0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while steps_logged(out / "digits-simclr") < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run did not start in time"
        time.sleep(0.02)
    return proc


def _latest_step(run_dir: Path) -> int:
    return json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]


def test_sigterm_then_resume_reproduces_every_loss(tmp_path, reference):
    out = tmp_path / "cut"
    proc = _start_and_wait(out, 23)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "--resume" in err
    run_dir = out / "digits-simclr"
    stopped = _latest_step(run_dir)
    assert 23 <= stopped < 60  # the checkpoint is the step where the signal arrived
    assert steps_logged(run_dir) == stopped

    assert run_in_process(out, *STEPS, "--resume") == 0
    assert losses(run_dir) == reference  # bit for bit, every step
    assert _latest_step(run_dir) == 60


def test_sigkill_then_resume_from_last_checkpoint(tmp_path, reference):
    out = tmp_path / "killed"
    proc = _start_and_wait(out, 26)
    proc.kill()
    proc.wait(timeout=60)
    run_dir = out / "digits-simclr"
    last = _latest_step(run_dir)
    assert last in (20, 21)  # every 10 steps and at the end of each 7-step epoch
    assert steps_logged(run_dir) > last  # metrics past the checkpoint: replaced on resume

    assert run_in_process(out, *STEPS, "--resume") == 0
    assert losses(run_dir) == reference
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, 61))


def test_sigterm_then_resume_with_views_made_in_two_workers(tmp_path, reference):
    """The digits views are made per example in DataLoader workers (``train_transform``): with
    two workers, interrupted and resumed, every loss equals the reference run's, which made
    them in the main process (the views depend on the seed, the epoch and the example only)."""
    workers = ("--set", "train.num_workers=2")
    out = tmp_path / "workers"
    proc = _start_and_wait(out, 17, *workers)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    run_dir = out / "digits-simclr"
    stopped = _latest_step(run_dir)
    assert 17 <= stopped < 60

    assert run_in_process(out, *STEPS, *workers, "--resume") == 0
    assert json.loads((run_dir / "engine.json").read_text())["started_at_step"] == stopped
    assert losses(run_dir) == reference  # bit for bit, every step
