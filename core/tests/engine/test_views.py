"""Views made per example in the DataLoader workers (``Method.train_transform``): the same
batches with any number of workers, the same views after a resume, a small pickled transform."""

from __future__ import annotations

import json
import os
import pickle
import signal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from sslkit.core.config import RunConfig, TrainConfig
from sslkit.core.data import DomainData
from sslkit.core.engine import Method, RunInterrupted, fit
from sslkit.core.engine.ddp import Env
from sslkit.core.engine.loader import TrainData
from sslkit.core.engine.rundir import RunDir
from sslkit.core.engine.views import MapViews, StreamViews, train_transform_of, with_views
from sslkit.testing.rows import RandomRows


class Jitter:
    """Two views of a row: one from the engine's ``rng``, one from torch's global generator
    (``randn_like``), which the engine seeds per example as well."""

    def __init__(self, scale: float = 0.5):
        self.scale = scale

    def __call__(self, example: Any, rng: torch.Generator) -> torch.Tensor:
        x = example[0] if isinstance(example, tuple | list) else example
        a = x + self.scale * torch.randn(x.shape, generator=rng)
        b = x + self.scale * torch.randn_like(x)
        return torch.stack([a, b])


class Toy(RandomRows):
    """192 random rows of 8 features, map-style or streamed from Parquet row groups."""

    def __init__(self, parquet: str | None = None, n: int = 192):
        super().__init__(parquet, n)


class Siamese(Method):
    """A linear encoder pulling two views together; its step draws from the global RNG too
    (dropout), so a transform that consumed the main process' RNG would change its losses."""

    def __init__(self):
        super().__init__()
        self.embed_dim = 4
        self.enc = nn.Sequential(nn.Linear(8, 4), nn.Dropout(0.1))
        self.batches: list[torch.Tensor] = []

    def train_transform(self) -> Jitter:
        return Jitter()

    def training_step(self, batch, step):
        self.batches.append(batch.clone())
        a, b = self.enc(batch[:, 0]), self.enc(batch[:, 1])
        return (a - b).pow(2).mean() - 0.1 * a.std(0).mean()

    def embed(self, x):
        return self.enc(x)


def config(**train) -> RunConfig:
    base = dict(batch_size=32, epochs=2, lr=0.05, optimizer="sgd", quiet=True, log_every=1,
                tensorboard=False, device="cpu", seed=11)  # fmt: skip
    return RunConfig("toy", "siamese", None, TrainConfig(**{**base, **train}))


def write_parquet(path, rows: int = 192, groups: int = 6):
    x = torch.randn(rows, 8, generator=torch.Generator().manual_seed(2)).tolist()
    pq.write_table(pa.table({"id": list(range(rows)), "x": x}), path, row_group_size=rows // groups)
    return str(path)


def _train(tmp_path, name: str, data: DomainData, **train) -> tuple[Siamese, list[float]]:
    torch.manual_seed(0)
    method = Siamese()
    result = fit(method, data, config(**train), RunDir.create(tmp_path, name), callbacks=[])
    return method, result.losses


def test_batches_and_losses_do_not_depend_on_num_workers(tmp_path):
    runs = [_train(tmp_path, f"w{w}", Toy(), num_workers=w) for w in (0, 2)]
    (m0, l0), (m2, l2) = runs
    assert len(m0.batches) == len(m2.batches) == 12  # 192 / 32 x 2 epochs
    for a, b in zip(m0.batches, m2.batches):
        assert a.shape == (32, 2, 8) and torch.equal(a, b)
    assert l0 == l2  # bit for bit
    # views, not copies: every view differs from its row, and epochs draw new views
    data = Toy()
    assert not any(torch.equal(a[:, 0], a[:, 1]) for a in m0.batches)
    rows = {tuple(r.tolist()) for r in data.x}
    assert not any(tuple(v.tolist()) in rows for v in m0.batches[0][:, 0])
    first = MapViews(data.train_dataset(), Jitter(), seed=11)
    seen0 = first[5]
    first.set_epoch(1)
    assert not torch.equal(seen0, first[5])
    first.set_epoch(0)
    assert torch.equal(seen0, first[5])  # a function of (seed, epoch, index) only


def test_a_transform_leaves_the_main_process_rng_alone():
    dataset = MapViews(TensorDataset(torch.zeros(4, 3)), Jitter(), seed=0)
    torch.manual_seed(5)
    expect = torch.rand(3)
    torch.manual_seed(5)
    dataset[0], dataset[1]
    assert torch.equal(torch.rand(3), expect)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_resumed_epoch_replays_the_same_views_with_workers(tmp_path, streamed):
    parquet = write_parquet(tmp_path / "rows.parquet") if streamed else None
    env = Env(device=torch.device("cpu"), rank=0, world_size=1, local_world_size=1)
    train = TrainData(Toy(parquet), 32, 1, 11, env, workers=2, transform=Jitter())
    assert isinstance(train.dataset, StreamViews if streamed else MapViews)
    whole = list(train.epoch(1))
    assert len(whole) == 6
    rest = list(train.epoch(1, skip=4))  # a run resumed after 4 micro-batches of epoch 1
    assert len(rest) == 2 and all(torch.equal(a, b) for a, b in zip(whole[4:], rest))
    other = list(train.epoch(2))
    assert not torch.equal(torch.cat(whole).sort(0)[0], torch.cat(other).sort(0)[0])


@pytest.mark.parametrize("streamed", [False, True])
def test_sigterm_and_resume_reproduce_views_made_in_workers(tmp_path, monkeypatch, streamed):
    parquet = write_parquet(tmp_path / "rows.parquet") if streamed else None
    cfg = dict(num_workers=2, checkpoint_every=4, max_steps=12 if streamed else 0)
    # map-style: the reference trains without workers (the same views either way)
    _, ref = _train(tmp_path, "ref", Toy(parquet), **{**cfg, "num_workers": 0 if not streamed else 2})  # fmt: skip

    def stop_after_step_8(self, step, total):
        if step == 6:  # the flag is read by the next step's agreement: it stops after step 8
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Siamese, "on_train_step_end", stop_after_step_8, raising=False)
    run = RunDir.create(tmp_path, "cut")
    torch.manual_seed(0)
    with pytest.raises(RunInterrupted, match="at step 8"):
        fit(Siamese(), Toy(parquet), config(**cfg), run, callbacks=None)
    monkeypatch.undo()
    torch.manual_seed(123)  # other initial weights: the checkpoint replaces them
    rest = fit(Siamese(), Toy(parquet), config(**cfg, resume=True), run)
    assert rest.start_step == 8 and rest.losses == ref[8:]
    steps = [json.loads(line)["loss"] for line in run.metrics.read_text().splitlines()]
    assert steps == ref


def test_full_batch_data_never_asks_for_a_transform(tmp_path):
    class Whole(Toy):
        full_batch = True

        def train_dataset(self):
            return self.x

    class Plain(Siamese):
        def train_transform(self):
            raise AssertionError("called for full-batch data")

        def training_step(self, batch, step):
            return self.enc(batch).pow(2).mean()

    result = fit(Plain(), Whole(), config(epochs=2), RunDir.create(tmp_path, "g"), callbacks=[])
    assert result.steps == 2


def test_the_transform_is_small_and_holds_no_module():
    from sslkit.testing import digits, digits_impl

    big = digits_impl.DigitsSimCLR(digits.DigitsSimCLR(hidden_dim=2048, embed_dim=512), 64)
    transform = train_transform_of(big)
    model_bytes = len(pickle.dumps(big.state_dict()))
    assert len(pickle.dumps(transform)) < 1024 < model_bytes
    again = pickle.loads(pickle.dumps(transform))
    x = (torch.randn(64),)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(transform(x, g1)[0], again(x, g2)[0])
    assert train_transform_of(Method()) is None


class _Bound(Siamese):
    def views(self, example, rng):
        return example

    def train_transform(self):
        return self.views  # a bound method: pickling it pickles the whole model


class _Closure(Siamese):
    def train_transform(self):
        return lambda example, rng: example


class _Holds(Siamese):
    def train_transform(self):
        return _WithEncoder(self.enc)


class _WithEncoder:
    def __init__(self, enc):
        self.enc = enc

    def __call__(self, example, rng):
        return example


@pytest.mark.parametrize(
    ("cls", "match"),
    [(_Bound, "holding _Bound"), (_Closure, "cannot be pickled"), (_Holds, "Sequential")],
)
def test_transforms_that_would_carry_the_model_or_not_pickle_are_refused(cls, match):
    with pytest.raises(TypeError, match=match):
        train_transform_of(cls())


def test_with_views_leaves_data_without_a_transform_alone(tmp_path):
    data = TensorDataset(torch.zeros(3))
    assert with_views(data, None, 0) is data
    stream = RandomRows(write_parquet(tmp_path / "r.parquet")).train_dataset()  # a ParquetStream
    assert isinstance(with_views(stream, Jitter(), 0), StreamViews)
