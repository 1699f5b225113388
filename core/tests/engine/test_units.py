"""Parts of the engine on a toy domain: data order, accumulation, checkpoints, streams,
callbacks. Small and in-process."""

from __future__ import annotations

import io
import json
import os
import random
import signal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from sslkit.core.config import RunConfig, TrainConfig
from sslkit.core.engine import Method, RunInterrupted, fit
from sslkit.core.engine.callbacks import CollapseMonitor, Context, ProgressBar, default_callbacks
from sslkit.core.engine.checkpoint import (
    Position,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from sslkit.core.engine.loader import ParquetStream, ResumableSampler
from sslkit.core.engine.optim import LRPlan
from sslkit.core.engine.rundir import RunDir
from sslkit.testing.rows import RandomRows

Toy = RandomRows  # 256 random rows of 8 features; map-style, or streamed from Parquet row groups


class AE(Method):
    """A denoising linear autoencoder: uses the RNG in every step, like SSL views do."""

    def __init__(self, noise: float = 0.1):
        super().__init__()
        self.embed_dim, self.noise = 4, noise
        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(4, 8)

    def training_step(self, x, step):
        return {
            "loss": (self.dec(self.enc(x + self.noise * torch.randn_like(x))) - x).pow(2).mean()
        }

    def embed(self, x):
        return self.enc(x)


def config(**train) -> RunConfig:
    base = dict(batch_size=32, epochs=3, lr=0.05, optimizer="sgd", quiet=True, log_every=1,
                tensorboard=False, device="cpu")  # fmt: skip
    return RunConfig("toy", "ae", None, TrainConfig(**{**base, **train}))


def write_parquet(path, rows: int = 256, groups: int = 8):
    x = torch.randn(rows, 8, generator=torch.Generator().manual_seed(2)).tolist()
    table = pa.table({"id": list(range(rows)), "x": x})
    pq.write_table(table, path, row_group_size=rows // groups)
    return path


# ---------------------------------------------------------------------------------------------


def test_sampler_is_distributed_sampler_and_resumes_mid_epoch():
    data = TensorDataset(torch.arange(100))
    for rank in range(2):
        ours = ResumableSampler(data, 2, rank, seed=5)
        ours.set_position(3, 0)
        ref = DistributedSampler(data, num_replicas=2, rank=rank, seed=5)
        ref.set_epoch(3)
        assert list(ours) == list(ref)
        full = list(ours)
        ours.set_position(3, 4 * 8 * 2)  # 4 batches of 8 on each of 2 ranks were trained
        assert list(ours) == full[4 * 8 :]


def test_learning_rate_follows_the_true_global_batch():
    plan = LRPlan(0.1, 0.1 * 2048 / 256, "linear", 256, 64, 4, 2, 4, 100, 10, 0.0)
    assert plan.global_batch == 64 * 4 * 2 * 4
    assert (
        "global batch 2048 = 64 per device x 4 device(s) x 2 node(s) x 4 accumulation"
        in plan.describe()
    )
    assert plan.at(0) == pytest.approx(0.8 / 10) and plan.at(10) == pytest.approx(0.8)
    assert plan.at(100) == pytest.approx(0.0, abs=1e-12)


def test_accumulation_equals_the_large_batch(tmp_path):
    results = []
    for batch, acc in ((64, 1), (32, 2)):
        torch.manual_seed(0)
        model = AE(noise=0.0)
        run = RunDir.create(tmp_path, f"b{batch}")
        res = fit(model, Toy(), config(batch_size=batch, accumulate=acc), run)
        results.append((res, model.state_dict()))
    (a, wa), (b, wb) = results
    assert a.steps == b.steps == 12  # 256 / 64 per epoch x 3
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-5)
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)
    info = json.loads((tmp_path / "b32" / "engine.json").read_text())
    assert info["lr_plan"]["global_batch"] == 64 and info["lr_plan"]["accumulate"] == 2


def test_checkpoint_round_trip_with_tied_weights_and_rng(tmp_path):
    model = AE()
    model.dec.weight = nn.Parameter(model.enc.weight.t().contiguous())
    model.tied = model.enc  # the same module twice: tensors shared in the state_dict
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    model.training_step(torch.randn(4, 8), 0)["loss"].backward()
    opt.step()
    run = RunDir.create(tmp_path, "r")
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    save_checkpoint(run, model, opt, Position(7, 1, 3), device=torch.device("cpu"))
    expect = (torch.rand(3), np.random.rand(3), random.random())

    again, opt2 = AE(), None
    again.dec.weight = nn.Parameter(torch.zeros_like(model.dec.weight))
    again.tied = again.enc
    opt2 = torch.optim.AdamW(again.parameters(), lr=0.01)
    torch.manual_seed(0)
    pos, _ = load_checkpoint(run.path, again, opt2, torch.device("cpu"))
    assert (pos.step, pos.epoch, pos.batch_in_epoch) == (7, 1, 3)
    assert torch.equal(torch.rand(3), expect[0]) and np.array_equal(np.random.rand(3), expect[1])
    assert random.random() == expect[2]
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    for p1, p2 in zip(opt.state.values(), opt2.state.values()):
        assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)


def test_rng_capture_restore():
    state = capture_rng(torch.device("cpu"))
    a = (torch.randn(5), np.random.normal(size=3), random.gauss(0, 1))
    restore_rng(state, torch.device("cpu"))
    b = (torch.randn(5), np.random.normal(size=3), random.gauss(0, 1))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_parquet_stream_reads_each_row_once_over_ranks_and_workers(tmp_path, monkeypatch):
    path = write_parquet(tmp_path / "rows.parquet")
    seen = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        stream = ParquetStream(str(path), lambda b: b.column("id").to_pylist(), seed=1)
        stream.set_epoch(4)
        loader = DataLoader(stream, batch_size=None, num_workers=2)
        seen += [int(i) for i in loader]
    assert sorted(seen) == list(range(256))


def _sigterm_at(step_to_stop: int):
    def hook(self, step, total):
        if step == step_to_stop:
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@pytest.mark.parametrize("streamed", [False, True])
def test_in_process_sigterm_and_resume_reproduce_losses(tmp_path, monkeypatch, streamed):
    parquet = str(write_parquet(tmp_path / "rows.parquet")) if streamed else None
    cfg = config(max_steps=20 if streamed else 0, checkpoint_every=5)

    torch.manual_seed(0)
    ref = fit(AE(), Toy(parquet), cfg, RunDir.create(tmp_path, "ref")).losses

    run = RunDir.create(tmp_path, "cut")
    torch.manual_seed(0)
    monkeypatch.setattr(AE, "on_train_step_end", _sigterm_at(12), raising=False)
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM at step 14") as info:
        fit(AE(), Toy(parquet), cfg, run)
    assert info.value.exit_code == 143
    monkeypatch.undo()

    torch.manual_seed(123)  # other initial weights: the checkpoint must replace them
    rest = fit(AE(), Toy(parquet), config(**{**cfg.train.__dict__, "resume": True}), run)
    assert rest.start_step == 14
    steps = [json.loads(line)["loss"] for line in run.metrics.read_text().splitlines()]
    assert steps == ref and rest.losses == ref[14:]


def test_collapse_monitor_warns_when_rank_falls(tmp_path):
    model, data, logs = AE(), Toy(), []
    ctx = Context(
        RunDir.create(tmp_path, "r"), model, data, torch.device("cpu"), 10, 0, 32, logs.append
    )
    monitor = CollapseMonitor(every=1, rows=128)
    monitor.on_train_start(ctx)
    healthy = monitor.untrained["rankme"]
    assert healthy > 3.0 and not logs and monitor.best == {}
    with torch.no_grad():  # complete collapse: every row gets the same embedding
        model.enc.weight.zero_()
        model.enc.bias.copy_(torch.arange(1.0, 5.0))
    record = {"step": 1}
    monitor.on_step_end(ctx, record)
    assert record["rankme"] < 1.01 and record["embedding_std"] < 1e-6
    assert len(logs) == 1 and "embedding_std fell" in logs[0] and "(untrained " in logs[0]


def test_collapse_monitor_judges_rank_against_training_not_the_random_init(tmp_path, monkeypatch):
    """RankMe may fall from the untrained encoder's and rise again (stepwise SSL learning): no
    warning for that; a fall below half of the best trained value warns."""
    model, data, logs = AE(), Toy(), []
    ctx = Context(
        RunDir.create(tmp_path, "r"), model, data, torch.device("cpu"), 10, 0, 32, logs.append
    )
    monitor = CollapseMonitor(every=1, rows=128)
    ranks = iter([8.0, 2.0, 6.0, 2.5])  # untrained, then steps 1-3
    import sslkit.core.objectives.monitors as monitors

    monkeypatch.setattr(monitors, "rankme", lambda z: torch.tensor(next(ranks)))
    monitor.on_train_start(ctx)
    for step in (1, 2):
        monitor.on_step_end(ctx, {"step": step})
    assert not logs  # 8 -> 2 -> 6: above a tenth of the untrained rank, then rising
    monitor.on_step_end(ctx, {"step": 3})
    assert len(logs) == 1 and "rankme fell to 2.5 at step 3 (best 6)" in logs[0]


def test_progress_bar_and_quiet(tmp_path):
    out = io.StringIO()
    from rich.console import Console

    bar = ProgressBar(console=Console(file=out, force_terminal=True, width=120))
    fit(AE(), Toy(), config(epochs=2), RunDir.create(tmp_path, "r"), callbacks=[bar])
    text = out.getvalue()
    assert "samples/s" in text and "loss" in text and "16/16" in text
    assert [type(c).__name__ for c in default_callbacks(config().train, has_eval=True)] == [
        "MetricsLog"
    ]
    loud = config(quiet=False, monitor_every=5).train
    names = [type(c).__name__ for c in default_callbacks(loud, has_eval=True)]
    assert names == ["CollapseMonitor", "MetricsLog", "PlainLog"]  # pytest's stderr is no TTY


def test_tensorboard_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    fit(AE(), Toy(), config(tensorboard=True), run := RunDir.create(tmp_path, "r"))
    assert list((run.path / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_torch_compile_trains_like_eager(tmp_path):
    runs = []
    for compiled in (False, True):
        torch.manual_seed(0)
        method = AE(noise=0.0)  # compiled code draws random numbers from its own generator
        run = RunDir.create(tmp_path, f"c{compiled}")
        runs.append(fit(method, Toy(), config(epochs=1, compile=compiled), run))
    np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("world", "local_rank", "expected"), [("1", "0", 0), ("2", "1", 1)])
def test_cuda_device_gets_an_index_before_set_device(monkeypatch, world, local_rank, expected):
    """``auto`` on a GPU machine gives a bare ``cuda``, which torch.cuda.set_device refuses:
    setup must pass an indexed device (the current one, or LOCAL_RANK under torchrun)."""
    from sslkit.core.engine import ddp

    chosen = []
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(ddp, "select_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(ddp.dist, "init_process_group", lambda **kw: None)  # no NCCL here
    env, _ = ddp.setup("auto")
    assert chosen == [torch.device("cuda", expected)] and env.device == chosen[0]


def test_more_local_ranks_than_gpus_is_a_usage_error(monkeypatch):
    from sslkit.core.engine import ddp
    from sslkit.core.errors import UsageError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(ddp, "select_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UsageError, match="sees 1 CUDA device.*--nproc-per-node 1"):
        ddp.setup("auto")


def test_move_to_leaves_an_in_place_batch_object_where_it_was():
    """PyG's ``Data.to`` moves its tensors in place; moving a training batch must not move the
    data set's own graph (evaluation later reads it as numpy)."""
    from sslkit.core.engine.method import move_to

    class InPlace:
        def __init__(self):
            self.x = torch.zeros(3)

        def to(self, device):
            self.x = self.x.to(device, dtype=torch.float64)  # dtype marks a move here, on CPU
            return self

    original = InPlace()
    moved = move_to(original, torch.device("cpu"))
    assert moved.x.dtype == torch.float64 and original.x.dtype == torch.float32


@pytest.mark.parametrize(
    ("agreed", "calls"), [(True, ["barrier", "destroy"]), (False, ["destroy"])]
)
def test_teardown_meets_at_a_barrier_only_when_the_ranks_agreed(monkeypatch, agreed, calls):
    """A rank that failed alone must not wait at a barrier the others never reach."""
    from sslkit.core.engine import ddp

    seen = []
    monkeypatch.setattr(ddp.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(ddp.dist, "barrier", lambda: seen.append("barrier"))
    monkeypatch.setattr(ddp.dist, "destroy_process_group", lambda: seen.append("destroy"))
    ddp.teardown(True, agreed)
    assert seen == calls
