"""Two processes under torch.distributed.run on gloo train the same model as one process on
the same global batch; both ranks end with identical weights. Real processes, real DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_testlib import HERE, child_env, losses
from safetensors.torch import load_file

pytestmark = pytest.mark.distributed
WORKER = str(HERE / "_ddp_worker.py")


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]  # fmt: skip


def _run(cmd: list[str], env=None) -> None:
    done = subprocess.run(cmd, env=env or child_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_two_ranks_equal_one_process_on_the_global_batch(tmp_path: Path):
    import _ddp_worker

    _ddp_worker.train(str(tmp_path), "single", 64)  # one process, here
    _run(_torchrun(WORKER, str(tmp_path), "ddp", "32"))

    one, two = losses(tmp_path / "single"), losses(tmp_path / "ddp")
    assert sorted(one) == sorted(two) == list(range(1, 9))
    for step in one:  # same data, same global batch, same learning rate: same losses
        assert two[step] == pytest.approx(one[step], rel=1e-4, abs=1e-5), step
    assert one[8] < one[1] - 0.05  # it trained

    rank0 = load_file(str(tmp_path / "ddp-rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "ddp-rank1.safetensors"))
    single = load_file(str(tmp_path / "single-rank0.safetensors"))
    for key in single:
        assert torch.equal(rank0[key], rank1[key]), key  # DDP keeps the ranks identical
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-3, atol=1e-4)

    engine = json.loads((tmp_path / "ddp" / "engine.json").read_text())
    assert engine["world_size"] == 2 and engine["backend"] == "gloo"
    assert engine["lr_plan"]["global_batch"] == 64
    assert engine["lr_plan"]["lr"] == pytest.approx(0.003)  # scaled for 64 = base batch
    single_engine = json.loads((tmp_path / "single" / "engine.json").read_text())
    assert single_engine["lr_plan"]["lr"] == engine["lr_plan"]["lr"]


@pytest.mark.slow
def test_cli_nproc_per_node_hands_over_to_torchrun(tmp_path: Path, digits_entry_point):
    cmd = [sys.executable, "-m", "sslkit.cli", "pretrain", "digits", "--nproc-per-node", "2",
           "--out", str(tmp_path), "--max-steps", "3", "--batch-size", "32",
           "--set", "data.max_rows=300", "--quiet"]  # fmt: skip
    _run(cmd, env=digits_entry_point)
    engine = json.loads((tmp_path / "digits-simclr" / "engine.json").read_text())
    assert engine["world_size"] == 2 and engine["lr_plan"]["global_batch"] == 64
    assert (tmp_path / "digits-simclr" / "default_task.json").is_file()  # rank 0 evaluated
    assert (
        json.loads((tmp_path / "digits-simclr" / "checkpoints" / "latest.json").read_text())["step"]
        == 3
    )
