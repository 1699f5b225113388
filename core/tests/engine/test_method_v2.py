"""Method contract v2: ``training_step(batch, step)`` gets the optimizer step from the engine
(the same for every micro-batch under accumulation, the checkpoint's step after a resume), and
``param_groups(weight_decay)`` hands the optimizer its parameter groups."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from torch import nn

from sslkit.core.config import RunConfig, TrainConfig
from sslkit.core.engine import Method, RunInterrupted, fit, no_decay_groups
from sslkit.core.engine import trainer as trainer_module
from sslkit.core.engine.optim import build_optimizer
from sslkit.core.engine.rundir import RunDir
from sslkit.testing.rows import RandomRows


def Rows() -> RandomRows:
    """128 random rows of 8 features."""
    return RandomRows(n=128)


class Recorder(Method):
    """A linear autoencoder that records the step of every training_step call."""

    def __init__(self, stop_after: int = -1):
        super().__init__()
        self.embed_dim = 4
        self.enc, self.dec = nn.Linear(8, 4), nn.Linear(4, 8)
        self.steps: list[int] = []
        self.ends: list[int] = []
        self.stop_after = stop_after

    def training_step(self, x, step):
        self.steps.append(step)
        return (self.dec(self.enc(x)) - x).pow(2).mean()

    def on_train_step_end(self, step, total_steps):
        self.ends.append(step)
        if step == self.stop_after:
            os.kill(os.getpid(), signal.SIGTERM)

    def embed(self, x):
        return self.enc(x)


def config(**train) -> RunConfig:
    base = dict(batch_size=16, accumulate=2, epochs=2, lr=0.05, optimizer="sgd", quiet=True,
                log_every=1, tensorboard=False, device="cpu")  # fmt: skip
    return RunConfig("rows", "recorder", None, TrainConfig(**{**base, **train}))


def test_every_micro_batch_of_step_k_gets_step_k(tmp_path):
    method = Recorder()
    res = fit(method, Rows(), config(), RunDir.create(tmp_path, "r"), callbacks=[])
    assert res.steps == 8  # 128 rows / (16 x 2) per step x 2 epochs
    assert method.steps == [k for k in range(8) for _ in range(2)]
    assert method.ends == list(range(8))  # on_train_step_end(step) after step `step`


def test_a_resumed_run_continues_from_the_checkpoints_step(tmp_path):
    cfg = config(epochs=3)  # 12 steps of 2 micro-batches, 4 steps an epoch
    run = RunDir.create(tmp_path, "cut")
    cut = Recorder(stop_after=4)  # SIGTERM during step 4; the loop stops after step 5, mid-epoch
    with pytest.raises(RunInterrupted, match="at step 6/12"):
        fit(cut, Rows(), cfg, run, callbacks=[])
    assert cut.steps == [k for k in range(6) for _ in range(2)]

    rest = Recorder()
    result = fit(rest, Rows(), config(**{**cfg.train.__dict__, "resume": True}), run, callbacks=[])
    assert result.start_step == 6 and result.steps == 12
    assert rest.steps == [k for k in range(6, 12) for _ in range(2)]
    assert rest.ends == list(range(6, 12))


# ---------------------------------------------------------------------------------------------
# param_groups


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.emb = nn.Embedding(5, 4)
        self.ln = nn.LayerNorm(4)
        self.ln2d = nn.LayerNorm((2, 2))  # a 2-d norm weight: still no decay
        self.bn = nn.BatchNorm1d(4)
        self.token = nn.Parameter(torch.zeros(4))
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


def test_no_decay_groups_spares_biases_norms_and_vectors():
    m = Mixed()
    decay, no_decay = no_decay_groups(m, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay["params"]) == ids([m.lin.weight, m.emb.weight])
    assert ids(no_decay["params"]) == ids([m.lin.bias, m.ln.weight, m.ln.bias, m.ln2d.weight,
                                           m.ln2d.bias, m.bn.weight, m.bn.bias, m.token])  # fmt: skip
    # the default of a method without the hook: the same two groups
    opt = build_optimizer(m, "adamw", 0.1, 0.05)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert [ids(g["params"]) for g in opt.param_groups] == [
        ids(decay["params"]),
        ids(no_decay["params"]),
    ]


class TwoParams(Method):
    """``a`` decays, ``b`` does not (its group says so); both get zero gradients."""

    def __init__(self, groups=None):
        super().__init__()
        self.a = nn.Parameter(torch.full((3, 3), 2.0))
        self.b = nn.Parameter(torch.full((3, 3), 2.0))
        self.groups = groups

    def param_groups(self, weight_decay):
        if self.groups is not None:
            return self.groups(self, weight_decay)
        return [{"params": [self.a]}, {"params": [self.b], "weight_decay": 0.0}]


@pytest.mark.parametrize("name", ["adamw", "sgd", "lars"])
def test_a_group_without_decay_keeps_its_parameters_undecayed(name):
    m = TwoParams()
    opt = build_optimizer(m, name, 0.1, 0.5)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0]  # left out: the run's
    assert opt.param_groups[0]["params"] == [m.a] and opt.param_groups[1]["params"] == [m.b]
    (0 * (m.a.sum() + m.b.sum())).backward()
    opt.step()
    assert torch.equal(m.b.detach(), torch.full((3, 3), 2.0))
    assert float(m.a.detach().max()) < 2.0  # decayed


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (lambda m, wd: [{"params": [m.a]}], "leaves out trainable parameters .*: b"),
        (lambda m, wd: [{"params": [m.a, m.b]}, {"params": [m.b]}], "'b' is in two groups"),
        (lambda m, wd: [{"params": [m.a, m.b], "lr": 1.0}], "sets 'lr'"),
        (lambda m, wd: [{"params": [m.a, m.b, nn.Parameter(torch.zeros(1))]}], "not a parameter"),
    ],
)
def test_wrong_groups_are_refused(groups, message):
    with pytest.raises(ValueError, match=message):
        build_optimizer(TwoParams(groups), "adamw", 0.1, 0.5)


def test_the_engine_hands_the_digits_methods_groups_to_the_optimizer(tmp_path, monkeypatch):
    """DigitsSimCLR with a hook: the encoder by the default rule, the projector without decay."""
    from sslkit.testing.digits import DigitsData
    from sslkit.testing.digits import DigitsSimCLR as SimCLRConfig
    from sslkit.testing.digits_impl import DigitsSimCLR, load_data

    class Grouped(DigitsSimCLR):
        def param_groups(self, weight_decay):
            return [*no_decay_groups(self.encoder, weight_decay),
                    {"params": list(self.projector.parameters()), "weight_decay": 0.0}]  # fmt: skip

    seen = []

    def spy(*args, **kwargs):
        seen.append(opt := build_optimizer(*args, **kwargs))
        return opt

    monkeypatch.setattr(trainer_module, "build_optimizer", spy)
    data = load_data(DigitsData(max_rows=200))
    torch.manual_seed(0)
    method = Grouped(SimCLRConfig(hidden_dim=16, embed_dim=8), data.info["features"])
    projector_before = [p.detach().clone() for p in method.projector.parameters()]
    cfg = config(batch_size=32, accumulate=1, max_steps=3, optimizer="adamw", weight_decay=0.3)
    fit(method, data, cfg, RunDir.create(tmp_path, "digits"), callbacks=[])

    (opt,) = seen
    enc, proj = list(method.encoder.parameters()), list(method.projector.parameters())
    assert [g["weight_decay"] for g in opt.param_groups] == [0.3, 0.0, 0.0]
    assert [len(g["params"]) for g in opt.param_groups] == [2, 2, 2]
    assert {id(p) for p in opt.param_groups[0]["params"]} == {
        id(method.encoder[0].weight),
        id(method.encoder[2].weight),
    }
    assert {id(p) for p in opt.param_groups[2]["params"]} == {id(p) for p in proj}
    assert all(opt.state[p] for p in enc + proj)  # every parameter was stepped
    assert any(not torch.equal(a, b.detach()) for a, b in zip(projector_before, proj))
