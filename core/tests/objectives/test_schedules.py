"""Schedules follow the optimizer step the caller passes, not the number of forward calls:
DINO's teacher-temperature warmup trained by the engine with ``train.accumulate=4`` (4
micro-batches per optimizer step) equals the run without accumulation, step for step."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
import torch
from torch import nn

from sslkit.core import objectives as O
from sslkit.core.config import RunConfig, TrainConfig
from sslkit.core.engine import Method, fit
from sslkit.core.engine.rundir import RunDir
from sslkit.testing.rows import RandomRows

_spec = importlib.util.spec_from_file_location(
    "objrefs", pathlib.Path(__file__).with_name("refs.py")
)
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)

WARMUP, T0, T1 = 6, 0.04, 0.07


Rows = RandomRows  # 256 random rows of 8 features


class TinyDINO(Method):
    """Student and frozen teacher heads on two views; DINOLoss gets the optimizer step the
    engine passes to ``training_step``. Records what each forward call used."""

    def __init__(self):
        super().__init__()
        self.embed_dim = 6
        self.student, self.teacher = nn.Linear(8, 6), nn.Linear(8, 6)
        self.teacher.requires_grad_(False)
        self.loss = O.DINOLoss(
            6, teacher_temp=T1, warmup_teacher_temp=T0, warmup_steps=WARMUP, center_momentum=0.9
        )
        self.calls: list[dict] = []

    def training_step(self, x, step):
        views = torch.stack([x, x.flip(-1)], dim=1)
        s, t = self.student(views), self.teacher(views)
        center = self.loss.center.clone()
        loss = self.loss(s, t, step=step)
        self.calls.append(
            dict(
                step=step,
                temp=self.loss.last_teacher_temp,
                s=s.detach(),
                t=t.detach(),
                center=center,
                loss=loss.detach(),
            )
        )
        return loss

    def embed(self, x):
        return self.student(x)


def _train(tmp_path, batch_size, accumulate):
    torch.manual_seed(0)
    method = TinyDINO()
    cfg = TrainConfig(batch_size=batch_size, accumulate=accumulate, epochs=1, lr=0.05,
                      optimizer="sgd", quiet=True, log_every=1, tensorboard=False, device="cpu")  # fmt: skip
    run = RunDir.create(tmp_path, f"b{batch_size}x{accumulate}")
    res = fit(method, Rows(), RunConfig("rows", "dino", None, cfg), run, callbacks=[])
    return method, res


def _schedule(k):
    return T0 + (T1 - T0) * k / WARMUP if k < WARMUP else T1


def test_dino_teacher_temperature_follows_optimizer_steps_under_accumulation(tmp_path):
    plain, r1 = _train(tmp_path, 32, 1)
    accum, r4 = _train(tmp_path, 8, 4)
    assert r1.steps == r4.steps == 8  # 256 rows / global batch 32
    assert len(plain.calls) == 8 and len(accum.calls) == 32  # 4 forward calls per step

    per_step_plain = [c["temp"] for c in plain.calls]
    per_step_accum = [accum.calls[4 * k]["temp"] for k in range(8)]
    assert per_step_plain == pytest.approx([_schedule(k) for k in range(8)], abs=1e-15)
    assert per_step_accum == pytest.approx(per_step_plain, abs=1e-15)
    for i, c in enumerate(accum.calls):
        # every micro-batch of optimizer step k is at step k, whatever the count of calls
        assert c["step"] == i // 4 and c["temp"] == pytest.approx(_schedule(i // 4), abs=1e-15)
    # (a loss that counted its calls would be at 0.04 + 0.03 * 4 / 6 = 0.06 on the 5th call)
    assert accum.calls[4]["temp"] == pytest.approx(0.045)

    # the loss values are those of the formula at the scheduled temperature
    for c in plain.calls + accum.calls:
        ref = refs.dino(c["s"].double(), c["t"].double(), c["center"].double(), 0.1, _schedule(c["step"]))  # fmt: skip
        torch.testing.assert_close(c["loss"].double(), ref, rtol=1e-5, atol=1e-6)
