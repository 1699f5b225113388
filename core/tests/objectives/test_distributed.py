"""World size 2 (two real gloo processes) equals one process on the global batch, for every
objective that gathers or reduces; and with ``group=`` a sub-group of a world of 3 is its own
global batch. The processes run ``_dist_worker.py`` (see its docstring)."""

from __future__ import annotations

import copy
import importlib.util
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile

import pytest
import torch

from sslkit.core import distributed as D
from sslkit.core import objectives as O

_path = pathlib.Path(__file__).with_name("_dist_worker.py")
_spec = importlib.util.spec_from_file_location("_sslkit_dist_worker", _path)
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)
CASE_NAMES = W.CASE_NAMES


def _spawn(world: int, *args: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, str(_path), d, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return [torch.load(os.path.join(d, f"rank{r}.pt"), weights_only=True) for r in range(world)]


@pytest.fixture(scope="module")
def world2_results():
    return _spawn(W.WORLD)


@pytest.fixture(scope="module")
def subgroup_results():
    return _spawn(W.SUBGROUP_WORLD, "subgroup")


@pytest.mark.distributed
@pytest.mark.parametrize("name", CASE_NAMES)
def test_world_size_2_equals_global_batch(world2_results, name):
    for r, res in enumerate(world2_results):
        assert res[name] == "ok", f"rank {r}:\n{res[name]}"


@pytest.mark.distributed
@pytest.mark.parametrize("name", CASE_NAMES)
def test_subgroup_is_its_own_global_batch(subgroup_results, name):
    """World of 3: ranks 1, 2 in ``new_group([1, 2])`` equal one process on their rows;
    rank 0 in ``new_group([0])`` equals its local loss."""
    for r, res in enumerate(subgroup_results):
        assert res[name] == "ok", f"rank {r}:\n{res[name]}"


class _Recorder:
    """Stands in for the collectives of ``sslkit.core.distributed``: identity, recording the
    ``group`` of every call."""

    def __init__(self, monkeypatch):
        self.groups: list[tuple[str, object]] = []

        def rec(name, result):
            def fn(*args, group=None, **kwargs):
                if len(args) > result[1]:  # group given positionally
                    group = args[result[1]]
                self.groups.append((name, group))
                return result[0](*args)

            return fn

        monkeypatch.setattr(D, "is_distributed", rec("is_distributed", (lambda *a: True, 0)))
        monkeypatch.setattr(D, "gather", rec("gather", (lambda x, *a: x, 1)))
        monkeypatch.setattr(D, "gather_with_offset", rec("gather_with_offset", (lambda x, *a: (x, 0), 1)))  # fmt: skip
        monkeypatch.setattr(D, "all_reduce_sum", rec("all_reduce_sum", (lambda x, *a: x, 1)))
        monkeypatch.setattr(D, "all_reduce_max", rec("all_reduce_max", (lambda x, *a: x, 1)))
        monkeypatch.setattr(D, "globalize_loss", rec("globalize_loss", (lambda x, *a: x, 2)))


def _group_cases(g):
    """Each objective with collectives, built with ``group=g``, and a call of it."""
    z = torch.randn(6, 2, 4)
    lab = torch.tensor([0, 1, 0, 1, 2, 2])
    tok = torch.randn(2, 5, 4), torch.randn(2, 5, 4), torch.rand(2, 5) > 0.5
    return [
        (O.InfoNCE(group=g), lambda o: o(z)),
        (O.InfoNCE(group=g), lambda o: o(z, labels=lab)),
        (O.SupCon(group=g), lambda o: o(z[:, 0], z[:, 1], labels=lab)),
        (O.AMInfoNCE(group=g), lambda o: o(z)),
        (O.DCL(group=g), lambda o: o(z)),
        (O.DCLW(group=g), lambda o: o(z)),
        (O.DebiasedInfoNCE(group=g), lambda o: o(z)),
        (O.MoCoQueue(4, 8, group=g), lambda o: (o(z[:, 0], z[:, 1]), o(z[:, 0], z[:, 1]))[1]),
        (O.NNCLR(4, 8, group=g), lambda o: (o(z, z), o(z, z))[1]),
        (O.MetricLoss(group=g), lambda o: o(z)),
        (O.BarlowTwins(group=g), lambda o: o(z)),
        (O.VICReg(group=g), lambda o: o(z)),
        (O.WMSE(group=g), lambda o: o(z)),
        (O.DINOLoss(4, warmup_steps=2, group=g), lambda o: o(z, z[:, :1], step=1)),
        (O.SwAVLoss(group=g), lambda o: o(z)),
        (O.MaskedReconstruction(group=g), lambda o: o(*tok)),
        (O.LatentPrediction(top_k=None, group=g), lambda o: o(*tok)),
        (O.MaskedPrediction(group=g), lambda o: o(tok[0], tok[1].argmax(-1), tok[2])),
        (O.FeatureQueue(8, 4, group=g), lambda o: o.enqueue(z[:, 0])),
    ]


def test_group_is_passed_to_every_collective(monkeypatch):
    """Every objective with collectives hands its ``group`` to each helper it calls (the helpers
    are stand-ins here; test_subgroup_is_its_own_global_batch runs real sub-groups)."""
    group = object()  # any process-group object: the objectives only pass it on
    covered = set()
    for obj, call in _group_cases(group):
        rec = _Recorder(monkeypatch)
        obj.train()
        call(obj)
        assert rec.groups, f"{type(obj).__name__} ran no collective"
        wrong = [name for name, g in rec.groups if g is not group]
        assert not wrong, f"{type(obj).__name__}: no group given to {wrong}"
        covered.add(type(obj).__name__)
    kinds = {n for n in O.__all__ if getattr(getattr(O, n), "distributed_kind", "local") != "local"}
    assert kinds - {"Matryoshka"} <= covered, kinds - covered


def test_group_survives_deepcopy_and_pickle():
    group = object()
    loss = torch.nn.Sequential(O.InfoNCE(group=group), O.MoCoQueue(4, 8, group=group))
    twin = copy.deepcopy(loss)  # export deep-copies the method; a process group cannot be copied
    assert twin[0].group is group and twin[1].queue.group is group
    assert twin[1].queue is not loss[1].queue
    back = pickle.loads(pickle.dumps(torch.nn.Sequential(O.InfoNCE(group=None))))
    assert back[0].group is None
    assert O.InfoNCE().group is None


def test_rank_helpers_without_process_group(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not D.is_distributed()
    assert (D.rank(), D.world_size(), D.is_main(), D.shard_info()) == (0, 1, True, (0, 1))
    x = torch.randn(3, 2, requires_grad=True)
    assert D.gather(x) is x and D.all_reduce_sum(x) is x
    D.barrier()
