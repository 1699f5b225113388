"""Budgets derived from the data (train.steps / epochs with train.min_steps), their log line and
warnings, the precedence of an explicit --epochs over a preset's budget, the default monitor,
and early stopping on a self-supervised validation signal."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from sslkit.core.config import RunConfig, TrainConfig, build_run_config
from sslkit.core.engine import Method, fit
from sslkit.core.engine.budget import plan_budget
from sslkit.core.engine.callbacks import Context, EarlyStop
from sslkit.core.engine.rundir import RunDir
from sslkit.core.errors import ConfigError, DataError
from sslkit.testing.rows import RandomRows


class AE(Method):
    """A denoising linear autoencoder with a BatchNorm (its running statistics are buffers)."""

    def __init__(self):
        super().__init__()
        self.embed_dim = 4
        self.enc, self.norm, self.dec = nn.Linear(8, 4), nn.BatchNorm1d(4), nn.Linear(4, 8)

    def training_step(self, x, step):
        z = self.norm(self.enc(x + 0.1 * torch.randn_like(x)))
        return {"loss": (self.dec(z) - x).pow(2).mean()}

    def embed(self, x):
        return self.norm(self.enc(x))


def config(**train) -> RunConfig:
    base = dict(batch_size=32, epochs=3, lr=0.05, optimizer="sgd", quiet=True, log_every=1,
                tensorboard=False, device="cpu")  # fmt: skip
    return RunConfig("toy", "ae", None, TrainConfig(**{**base, **train}))


# -- the arithmetic -----------------------------------------------------------------------------


def test_budget_arithmetic_by_hand():
    # the tabular preset: 5 passes, at least 315 steps, warmup 10% (batch 512)
    tc = TrainConfig(epochs=5, min_steps=315, warmup_fraction=0.1)
    adult = plan_budget(tc, 32_561 // 512, rows=32_561, global_batch=512)  # 63 steps a pass
    assert (adult.total, adult.rule, adult.warmup_steps) == (315, "epochs", 32)
    assert adult.monitor_every == 315 // 20 == 15
    small = plan_budget(tc, 3_256 // 512, rows=3_256, global_batch=512)  # 6 steps a pass
    assert (small.total, small.rule, small.warmup_steps) == (315, "min_steps", 32)
    assert small.passes == pytest.approx(52.5)
    large = plan_budget(tc, 325_610 // 512, rows=325_610, global_batch=512)  # 635 steps a pass
    assert (large.total, large.rule, large.warmup_steps) == (3_175, "epochs", 318)
    # warmup in passes, as before: 0.5 x 63 steps
    assert plan_budget(TrainConfig(epochs=5, warmup_epochs=0.5), 63).warmup_steps == 32
    # a fixed number of steps, whatever the data
    fixed = plan_budget(TrainConfig(steps=500, epochs=3), 7)
    assert (fixed.total, fixed.rule) == (500, "steps")
    # max_steps caps the budget (and the cosine follows the capped run)
    capped = plan_budget(TrainConfig(epochs=5, min_steps=315, max_steps=2), 6)
    assert (capped.planned, capped.total, capped.capped) == (315, 2, True)
    # a stream has no length: train.steps, else train.max_steps
    assert plan_budget(TrainConfig(steps=40), 0).total == 40
    assert plan_budget(TrainConfig(max_steps=30), 0).total == 30
    with pytest.raises(DataError, match="train.steps"):
        plan_budget(TrainConfig(), 0)
    # the monitor: explicit, off, or about 20 points (at least every step)
    assert plan_budget(TrainConfig(epochs=1, monitor_every=7), 100).monitor_every == 7
    assert plan_budget(TrainConfig(epochs=1, monitor_every=0), 100).monitor_every == 0
    assert plan_budget(TrainConfig(epochs=1), 3).monitor_every == 1


def test_the_budget_line_and_the_warnings():
    tc = TrainConfig(epochs=5, min_steps=315)
    line = plan_budget(tc, 6, rows=3_256, global_batch=512).describe("preset tjepa/default")
    assert line.startswith("budget: 52.5 passes x 6 steps = 315 steps (train.epochs 5, at least")
    assert "the floor raised 5 passes (30 steps)" in line and "preset tjepa/default" in line
    assert "3,256 rows, 6 steps of 512 per pass" in line
    assert plan_budget(tc, 6, rows=3_256, global_batch=512).warnings() == []
    graph = plan_budget(TrainConfig(steps=500, max_steps=2), 1, rows=1, global_batch=256)
    assert graph.describe("preset grace/default") == (
        "budget: 500 steps (train.steps 500; preset grace/default); one step is one pass over "
        "the whole graph; capped at 2 by train.max_steps"
    )
    # an explicit --epochs 2 under a preset floor of 315 steps: one warning saying how to raise it
    low = plan_budget(TrainConfig(epochs=2, warn_below_steps=315), 6, rows=3_256, global_batch=512)
    [warning] = low.warnings()
    assert "plans 12 optimizer steps, fewer than the 315" in warning
    assert "--set train.min_steps=315" in warning and "--epochs 53" in warning
    # fewer steps than one pass over the examples
    [short] = plan_budget(TrainConfig(steps=100), 635, rows=325_610).warnings()
    assert "0.16 passes" in short and "--set train.steps=635" in short


# -- precedence ---------------------------------------------------------------------------------


@pytest.fixture
def plugin():
    """A plugin whose method ships a default preset of 5 passes, at least 315 steps."""
    spec = SimpleNamespace(name="m", config=lambda: None)
    preset = "[train]\nepochs = 5\nmin_steps = 315\nwarmup_fraction = 0.1\n"
    return SimpleNamespace(
        name="toy", method=lambda name=None: spec, data_config=lambda: None,
        preset_names=lambda m: ["default"], preset_text=lambda m, p: preset,
    )  # fmt: skip


def test_a_user_epochs_wins_over_the_presets_budget(plugin):
    default = build_run_config(plugin).train
    assert (default.epochs, default.min_steps, default.warn_below_steps) == (5, 315, 0)
    # --epochs 100 means 100 passes; the preset's floor only warns
    user = build_run_config(plugin, options={"train.epochs": 100}).train
    assert (user.epochs, user.min_steps, user.steps, user.warn_below_steps) == (100, 0, 0, 315)
    assert plan_budget(user, 14).total == 1_400
    # so does --set train.epochs=2, and it warns on small data
    low = build_run_config(plugin, overrides=["train.epochs=2"]).train
    assert plan_budget(low, 14).total == 28 and len(plan_budget(low, 14).warnings()) == 1
    # epochs with an explicit floor keeps the floor; a step budget given wins
    both = build_run_config(plugin, overrides=["train.epochs=2", "train.min_steps=50"]).train
    assert plan_budget(both, 14).total == 50
    steps = build_run_config(plugin, overrides=["train.steps=77"]).train
    assert plan_budget(steps, 14).total == 77
    # --resume keeps the run's saved budget (--epochs extends its passes)
    resumed = build_run_config(plugin, options={"train.epochs": 9, "train.resume": True}).train
    assert (resumed.epochs, resumed.min_steps) == (9, 315)


# -- the run's log and engine.json -------------------------------------------------------------


def test_fit_logs_the_budget_and_a_warning_for_a_too_small_run(tmp_path):
    logs: list[str] = []
    cfg = config(quiet=False, progress=False, epochs=1, warn_below_steps=100)
    result = fit(AE(), RandomRows(), cfg, RunDir.create(tmp_path, "r"), log=logs.append)
    assert result.steps == 8  # 256 rows / 32
    budget = [line for line in logs if line.startswith("budget:")]
    assert budget == [
        "budget: 1 pass x 8 steps = 8 steps (train.epochs 1; defaults); "
        "256 rows, 8 steps of 32 per pass"
    ]
    warnings = [line for line in logs if line.startswith("warning:")]
    assert len(warnings) == 1 and "--set train.min_steps=100" in warnings[0]
    info = json.loads((tmp_path / "r" / "engine.json").read_text())["budget"]
    assert (info["total"], info["rule"], info["rows"], info["monitor_every"]) == (
        8,
        "epochs",
        256,
        1,
    )


def test_min_steps_raises_the_passes_and_the_default_monitor_logs_rankme(tmp_path):
    result = fit(AE(), RandomRows(), config(epochs=1, min_steps=20), RunDir.create(tmp_path, "r"))
    assert result.steps == 20 and result.budget.rule == "min_steps"
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    assert [r["step"] for r in records if "rankme" in r] == list(range(1, 21))  # 20 // 20 = 1
    longer = fit(AE(), RandomRows(), config(epochs=5), RunDir.create(tmp_path, "r2"))
    records = [json.loads(line) for line in (tmp_path / "r2" / "metrics.jsonl").open()]
    assert [r["step"] for r in records if "rankme" in r] == list(range(2, 41, 2))  # 40 // 20
    assert longer.steps == 40


# -- early stopping -----------------------------------------------------------------------------


def _ctx(tmp_path) -> Context:
    run = RunDir.create(tmp_path, "ctx")
    return Context(run, AE(), RandomRows(), torch.device("cpu"), 100, 0, 32, print)


def test_early_stop_decides_on_a_constructed_sequence(tmp_path):
    ctx = _ctx(tmp_path)
    stopper = EarlyStop("val_loss", every=5, patience=3)
    values = [5.0, 4.0, 3.0, 3.5, 3.2, 2.99, 3.1, 3.0, 3.05]  # checks at steps 0, 5, 10, ...
    stops = [stopper.update(ctx, v, 5 * i) for i, v in enumerate(values)]
    # best 2.99 at step 25; 3.1, 3.0, 3.05 do not improve: stop at the 9th check (step 40)
    assert stops == [False] * 8 + [True]
    assert ctx.stop_reason == (
        "early stop: val_loss did not improve for 3 checks (15 steps); best 2.99 at step 25"
    )
    # RankMe: higher is better; min_delta asks for a relative gain
    ctx = _ctx(tmp_path / "b")
    rank = EarlyStop("rankme", every=1, patience=2, min_delta=0.1)
    assert [rank.update(ctx, v, i) for i, v in enumerate([10.0, 10.5, 10.9, 11.5])] == [
        False, False, True, False
    ]  # fmt: skip
    assert "best 10 at step 0" in ctx.stop_reason


def test_fit_stops_early_at_the_expected_step(tmp_path, monkeypatch):
    sequence = iter([1.0, 0.9, 0.8, 0.85, 0.81, 0.7])  # start, then steps 2, 4, 6, 8, 10
    monkeypatch.setattr(EarlyStop, "val_loss", lambda self, ctx, step: next(sequence))
    logs: list[str] = []
    cfg = config(epochs=10, early_stop="val_loss", monitor_every=2, patience=2, quiet=False,
                 progress=False)  # fmt: skip
    result = fit(AE(), RandomRows(), cfg, run := RunDir.create(tmp_path, "r"), log=logs.append)
    assert result.steps == 8 and result.budget.total == 70  # 243 rows kept: 7 steps x 10
    assert result.stop_reason.endswith("best 0.8 at step 4")
    last = json.loads(run.metrics.read_text().splitlines()[-1])
    assert last["step"] == 8 and last["stop"] == result.stop_reason and last["val_loss"] == 0.81
    assert any("trained 8 steps" in line and "early stop" in line for line in logs)
    assert json.loads((run.path / "checkpoints" / "latest.json").read_text())["step"] == 8


class StopsItself(AE):
    """Asks to stop after step 5 and puts back the weights it had after step 3."""

    def on_train_step_end(self, step, total_steps):
        if step + 1 == 3:
            self.kept = {k: v.clone() for k, v in self.state_dict().items()}

    def stop_requested(self):  # asked after every step
        self.seen.append(1)
        if len(self.seen) == 5:
            self.load_state_dict(self.kept)
            return "early stop: the method's own metric"
        return ""


def test_a_method_can_stop_training_and_keep_its_weights(tmp_path):
    method = StopsItself()
    method.seen = []
    result = fit(method, RandomRows(), config(epochs=10), run := RunDir.create(tmp_path, "r"))
    assert result.steps == 5 and result.budget.total > 5
    assert result.stop_reason == "early stop: the method's own metric"
    assert all(torch.equal(v, method.kept[k]) for k, v in method.state_dict().items())
    # the last checkpoint holds the weights the method kept
    assert json.loads((run.path / "checkpoints" / "latest.json").read_text())["step"] == 5
    # a method that does not override stop_requested is never asked (no extra all-reduce)
    assert Method.stop_requested(method) == ""


class RemembersItsStop(AE):
    """Stops after step 5 and keeps that in a buffer, which the checkpoint saves."""

    def __init__(self):
        super().__init__()
        self.register_buffer("stopped", torch.zeros(()))

    def on_train_step_end(self, step, total_steps):
        if step + 1 == 5:
            self.stopped.fill_(1.0)

    def stop_requested(self):
        return "early stop: remembered" if bool(self.stopped) else ""


def test_a_run_resumed_after_the_method_stopped_takes_no_step(tmp_path):
    run = RunDir.create(tmp_path, "r")
    first = fit(RemembersItsStop(), RandomRows(), config(epochs=10), run)
    assert first.steps == 5 and first.stop_reason == "early stop: remembered"
    method = RemembersItsStop()
    again = fit(method, RandomRows(), config(epochs=10, resume=True), run)
    assert again.start_step == again.steps == 5  # not one step more
    assert again.stop_reason == "early stop: remembered" and bool(method.stopped)


def test_the_validation_loss_does_not_perturb_training(tmp_path, monkeypatch):
    cfg = config(epochs=2, early_stop="val_loss", monitor_every=3, patience=100)
    torch.manual_seed(0)
    real = fit(AE(), RandomRows(), cfg, RunDir.create(tmp_path, "a"))
    records = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").open()]
    measured = [r["val_loss"] for r in records if "val_loss" in r]
    assert len(measured) == 4 and all(v > 0 for v in measured)  # steps 3, 6, 9, 12 of 14
    monkeypatch.setattr(EarlyStop, "val_loss", lambda self, ctx, step: 1.0)
    torch.manual_seed(0)
    fake = fit(AE(), RandomRows(), cfg, RunDir.create(tmp_path, "b"))
    assert real.losses == fake.losses  # same RNG stream, same BatchNorm statistics


def test_early_stop_needs_the_monitor_and_held_out_examples(tmp_path):
    with pytest.raises(ConfigError, match="monitor_every = 0"):
        fit(AE(), RandomRows(), config(early_stop="rankme", monitor_every=0),
            RunDir.create(tmp_path, "a"))  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [[0.0] * 8] * 64}), path := str(tmp_path / "x.parquet"))
    with pytest.raises(ConfigError, match="a stream"):
        fit(AE(), RandomRows(path),
            config(early_stop="val_loss", max_steps=4), RunDir.create(tmp_path, "b"))  # fmt: skip


def test_the_default_monitor_survives_non_finite_embeddings():
    from sslkit.core.objectives.monitors import rankme

    assert torch.isnan(rankme(torch.full((4, 3), float("nan"))))
    z = torch.randn(64, 16, dtype=torch.float64)
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + 1e-7
    assert float(rankme(z)) == pytest.approx(float(torch.exp(-(p * p.log()).sum())), rel=1e-6)
