"""Several embedding spaces per run: a toy two-tower recommender (sslkit.testing.twotower: BPR
matrix factorisation on block-structured user-item interactions, spaces ``user`` and ``item``)
pretrained in-process, evaluated with the core recommendation metric against a random
control, and exported space by space (Parquet, npy, FAISS, ONNX, safetensors; ``--space``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sslkit.core.errors import UsageError

USERS, ITEMS, DIM = 48, 60, 16


@pytest.fixture(scope="module")
def toy():
    from sslkit.core.plugin import register, unregister
    from sslkit.testing.twotower import plugin

    register(plugin)
    yield plugin
    unregister(plugin.name)


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    from sslkit.core import api
    from sslkit.core.config import build_run_config

    cfg = build_run_config(
        toy,
        "bpr-mf",
        overrides=[
            f"data.users={USERS}",
            f"data.items={ITEMS}",
            f"method.embed_dim={DIM}",
            "train.max_steps=48",
            "train.epochs=50",
            "train.batch_size=64",
            "train.lr=0.05",
            "train.weight_decay=0",
            "train.device=cpu",
            "train.quiet=true",
            f"train.out={tmp_path_factory.mktemp('spaces')}",
            "train.name=twotower",
        ],
    )
    return api.pretrain(cfg, log=lambda *_: None)


def tables(result) -> tuple[np.ndarray, np.ndarray]:
    m = result.method
    return m.user.weight.detach().numpy(), m.item.weight.detach().numpy()


def rows(result, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's interactions as (user rows, item rows)."""
    users, items = result.data.pairs[split]
    return users, items


def test_recommendation_beats_a_random_control(trained):
    from sslkit.core import api
    from sslkit.core.evaluate.recommend import recall_ndcg_at_k

    assert trained.steps == 48
    assert trained.metrics["recall@10"] > 0  # the default task ran right after training
    report = api.evaluate(trained.run_dir, task=["recommend", "representation"])
    got = report["tasks"]["recommend"]
    assert report["spaces"] == ["user", "item"]
    assert "| embedding spaces | user, item |" in (Path(report["folder"]) / "report.md").read_text()
    assert got["pairs_unknown"] == 0 and got["users"] == USERS and got["items"] == ITEMS

    # the task is the core metric on the method's two tables
    user, item = tables(trained)
    direct = recall_ndcg_at_k(
        user, item, rows(trained, "train"), rows(trained, "test"), (5, 10, 20)
    )
    for k in (5, 10, 20):
        assert got[f"recall@{k}"] == pytest.approx(direct[f"recall@{k}"])
        assert got[f"ndcg@{k}"] == pytest.approx(direct[f"ndcg@{k}"])

    # a random-embedding control: the same protocol on seeded Gaussian tables
    controls = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        controls.append(
            recall_ndcg_at_k(
                rng.normal(size=(USERS, DIM)),
                rng.normal(size=(ITEMS, DIM)),
                rows(trained, "train"),
                rows(trained, "test"),
                (10,),
            )
        )
    control_recall = max(c["recall@10"] for c in controls)
    control_ndcg = max(c["ndcg@10"] for c in controls)
    assert got["recall@10"] > control_recall + 0.25, (got, control_recall)
    assert got["ndcg@10"] > control_ndcg + 0.2, (got, control_ndcg)


@pytest.mark.parametrize("space", ["user", "item"])
def test_parquet_and_npy_write_each_space(trained, tmp_path, space):
    from sslkit.core import api
    from sslkit.core.export.read import load_embeddings, read_card, read_manifest
    from sslkit.testing.twotower_impl import item_ids, user_ids

    user, item = tables(trained)
    want_ids = user_ids(np.arange(USERS)) if space == "user" else item_ids(np.arange(ITEMS))
    want = user if space == "user" else item
    for fmt in ("parquet", "npy"):
        out = api.export(trained.run_dir, to=fmt, space=space, out=tmp_path / fmt)
        ids, x = load_embeddings(out)
        assert ids.astype(str).tolist() == want_ids.tolist()
        assert x.shape == (len(want), DIM)
        np.testing.assert_allclose(x, want, atol=1e-6)
        manifest, card = read_manifest(out), read_card(out)
        assert manifest["space"] == card["space"] == space
        assert manifest["spaces"] == card["spaces"] == ["user", "item"]
        assert manifest["space_default"] is False and card["embedding_dim"] == DIM


def test_default_space_and_its_folder(trained):
    from sslkit.core import api
    from sslkit.core.export.read import read_manifest

    out = api.export(trained.run_dir, to="npy", overwrite=True)
    assert out == trained.run_dir / "export" / "user" / "npy"
    manifest = read_manifest(out)
    assert manifest["space"] == "user" and manifest["space_default"] is True
    item = api.export(trained.run_dir, to="npy", space="item", overwrite=True)
    assert item == trained.run_dir / "export" / "item" / "npy"
    assert len(np.load(item / "ids.npy")) == ITEMS and len(np.load(out / "ids.npy")) == USERS


def test_faiss_top_k_equals_the_metric_top_k(trained, tmp_path):
    import faiss

    from sslkit.core import api
    from sslkit.core.evaluate.recommend import top_k
    from sslkit.testing.twotower_impl import item_ids

    out = api.export(trained.run_dir, to="faiss", space="item", metric="ip", out=tmp_path / "f")
    index = faiss.read_index(str(out / "index.faiss"))
    ids = np.load(out / "ids.npy")
    assert index.ntotal == ITEMS and index.d == DIM
    assert ids.tolist() == item_ids(np.arange(ITEMS)).tolist()
    user, item = tables(trained)
    _, found = index.search(np.ascontiguousarray(user, dtype=np.float32), 10)
    want = top_k(user, item, 10)  # the metric's ranking before masking
    assert (ids[found] == item_ids(want.reshape(-1)).reshape(want.shape)).all()


def test_onnx_and_safetensors_export_one_space(trained, tmp_path):
    import onnxruntime as ort
    import torch
    from safetensors.torch import load_file

    from sslkit.core import api
    from sslkit.core.export.read import read_card

    out = api.export(trained.run_dir, to="onnx", space="item", out=tmp_path / "onnx")
    card = read_card(out)
    assert card["space"] == "item" and card["onnx"]["space"] == "item"
    session = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: np.arange(ITEMS, dtype=np.int64)})[0]
    np.testing.assert_allclose(got, tables(trained)[1], atol=1e-5)

    out = api.export(trained.run_dir, to="safetensors", space="user", out=tmp_path / "st")
    weights = load_file(str(out / "backbone.safetensors"))
    assert list(weights) == ["user.weight"]  # the item tower is not what embeds users
    torch.testing.assert_close(weights["user.weight"], trained.method.user.weight.detach())


def test_unknown_space_is_a_usage_error_listing_the_spaces(trained, digits_run, tmp_path):
    from sslkit.core import api

    with pytest.raises(UsageError, match=r"unknown space 'movie'; available: user, item"):
        api.export(trained.run_dir, to="npy", space="movie", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(UsageError, match="one embedding space"):
        api.export(digits_run, to="npy", space="user", out=tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_cli_space_flag(trained, tmp_path, capsys):
    cli = pytest.importorskip("sslkit.cli.main")

    code = cli.run(
        ["export", str(trained.run_dir), "--space", "movie", "--out", str(tmp_path / "x")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == "error: unknown space 'movie'; available: user, item"

    assert (
        cli.run(["export", str(trained.run_dir), "--to", "npy", "--out", str(tmp_path / "d")]) == 0
    )
    out = capsys.readouterr().out
    assert f"exported {USERS} rows of {DIM}-d embeddings of space 'user'" in out
    assert "the default of user, item; choose with --space" in out

    args = ["export", str(trained.run_dir), "--to", "parquet", "--space", "item"]
    assert cli.run([*args, "--out", str(tmp_path / "i")]) == 0
    out = capsys.readouterr().out
    assert f"exported {ITEMS} rows of {DIM}-d embeddings of space 'item' to" in out
    assert "default" not in out
    card = json.loads(Path(tmp_path / "i" / "model_card.json").read_text())
    assert card["space"] == "item"
