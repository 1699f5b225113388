"""`sslkit export` (in-process CLI): formats, model card, --dim, --overwrite, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

cli = pytest.importorskip("sslkit.cli.main")


def export(*args: str) -> int:
    return cli.run(["export", *map(str, args)])


@pytest.fixture(scope="module")
def reference(digits_run: Path):
    """ids and PyTorch embeddings of every exported row, in order."""
    from sslkit.core import api

    loaded = api.load_run(digits_run)
    with torch.no_grad():
        batches = list(loaded.data.export_batches(512))
        ids = np.concatenate([np.asarray(b.ids) for b in batches])
        emb = np.concatenate([loaded.method.embed(b.inputs).numpy() for b in batches])
    return loaded, ids, emb


def test_npy_equals_the_model(digits_run, reference, tmp_path, capsys):
    _, ids, emb = reference
    assert export(digits_run, "--to", "npy", "--out", tmp_path / "n", "--batch-size", 100) == 0
    assert "exported 1797 rows of 32-d embeddings" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "n" / "ids.npy"), ids)
    np.testing.assert_allclose(np.load(tmp_path / "n" / "embeddings.npy"), emb, atol=1e-6)
    manifest = json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert manifest["rows"] == 1797 and manifest["parts"][0]["rows"] == 1797


def test_parquet_card_in_schema(digits_run, tmp_path):
    assert export(digits_run, "--to", "parquet", "--out", tmp_path / "p") == 0
    schema = pq.read_schema(tmp_path / "p" / "embeddings.parquet")
    card = json.loads(schema.metadata[b"sslkit.model_card"])
    assert card["method"] == "simclr" and card["embedding_dim"] == 32
    assert card["preprocessing"]["mean"]  # the fitted standardisation travels with the vectors
    full = json.loads((tmp_path / "p" / "model_card.json").read_text())
    assert full["rows"] == 1797 and len(full["rows_fingerprint"]) == 32
    for key in ("method", "paper", "preprocessing", "data", "metrics", "versions", "training"):
        assert full[key], key
    assert full["data"]["schema_fingerprint"]
    sample = full["metrics"]["exported_embeddings"]  # measured on the exported vectors
    assert sample["rows"] == 1797 and 1 < sample["rankme"] <= 32
    assert full["metrics"]["training"]["step"] == 20
    assert "torch" in full["versions"]["versions"]


def test_the_same_data_gives_the_same_fingerprint(digits_run, tmp_path):
    for name in ("a", "b"):
        assert export(digits_run, "--to", "npy", "--out", tmp_path / name) == 0
    a, b = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in "ab")
    assert a["rows_fingerprint"] == b["rows_fingerprint"]


def test_matryoshka_dim(digits_run, reference, tmp_path, capsys):
    _, _, emb = reference
    assert export(digits_run, "--to", "parquet", "--dim", 8, "--out", tmp_path / "d8") == 0
    table = pq.read_table(tmp_path / "d8" / "embeddings.parquet")
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(got, emb[:, :8], atol=1e-6)
    assert export(digits_run, "--to", "parquet", "--dim", 12, "--out", tmp_path / "d12") == 2
    err = capsys.readouterr().err
    assert "--dim 12" in err and "8, 16, 32" in err
    assert not (tmp_path / "d12").exists()


def test_backbone_safetensors(digits_run, reference, tmp_path):
    from safetensors.torch import load_file

    from sslkit.core.export import load_encoder

    loaded, _, emb = reference
    assert export(digits_run, "--to", "safetensors", "--out", tmp_path / "s") == 0
    weights = load_file(str(tmp_path / "s" / "backbone.safetensors"))
    assert sorted(weights) == [
        "0.bias",
        "0.weight",
        "2.bias",
        "2.weight",
    ]  # the encoder's own state_dict: the projector (training-only head) is left out
    encoder = load_encoder(tmp_path / "s")  # built from the model card's encoder_spec
    with torch.no_grad():
        x = next(iter(loaded.data.export_batches(2000))).inputs  # the train split
        np.testing.assert_allclose(encoder(x).numpy(), emb[: len(x)], atol=1e-6)
    card = json.loads((tmp_path / "s" / "model_card.json").read_text())
    assert (
        card["safetensors"]["encoder_spec"]["build"] == "sslkit.testing.digits_impl:DigitsEncoder"
    )
    assert card["method"] == "simclr" and card["preprocessing"] and card["versions"]


def test_no_overwrite_without_flag(digits_run, tmp_path, capsys):
    out = tmp_path / "o"
    assert export(digits_run, "--to", "npy", "--out", out) == 0
    (out / "marker").write_text("old")
    assert export(digits_run, "--to", "npy", "--out", out) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "marker").exists()
    assert export(digits_run, "--to", "npy", "--out", out, "--overwrite") == 0
    assert not (out / "marker").exists() and (out / "embeddings.npy").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temporary folder left


def _nothing_written(parent: Path, name: str) -> None:
    if parent.exists():
        assert [p.name for p in parent.iterdir() if name in p.name] == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--to", "arrow"], "unknown export format 'arrow'"),
        (["--to", "parquet", "--index", "hnsw"], "does not apply to --to parquet"),
        (["--to", "faiss", "--index", "annoy"], "unknown index 'annoy'"),
        (["--to", "npy", "--dim", "0"], "--dim 0"),
    ],
)
def test_bad_arguments(digits_run, tmp_path, capsys, args, message):
    assert export(digits_run, *args, "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    _nothing_written(tmp_path, "x")


def test_run_without_checkpoint(digits_run, tmp_path, capsys):
    broken = tmp_path / "run"
    shutil.copytree(digits_run, broken, ignore=shutil.ignore_patterns("checkpoints", "export"))
    assert export(broken, "--to", "parquet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0]
    assert not (broken / "export").exists()


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((20, 60))}, "expected (rows, 64)"),  # wrong feature size
        ({"y": np.zeros(20)}, "no array 'x'"),  # missing column
    ],
)
def test_data_with_another_schema(digits_run, tmp_path, capsys, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "out" / "emb"
    assert export(digits_run, "--data", tmp_path / "bad.npz", "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "bad.npz" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_failure_mid_stream_leaves_nothing(digits_run, tmp_path, monkeypatch, capsys):
    """A bad row found after some batches were written: the partial output is removed."""
    from sslkit.core.errors import DataError
    from sslkit.testing import digits_impl

    real = digits_impl.DigitsDomain.eval_batches

    def failing(self, split, batch_size):
        for i, batch in enumerate(real(self, split, batch_size)):
            if split == "test" and i == 1:
                raise DataError("value 'abc' is not a number", path="data.npz", row=612)
            yield batch

    monkeypatch.setattr(digits_impl.DigitsDomain, "eval_batches", failing)
    for fmt in ("parquet", "npy", "faiss"):
        out = tmp_path / "out" / fmt
        assert export(digits_run, "--to", fmt, "--out", out, "--batch-size", 64) == 2
        assert "row 612" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()  # neither the output nor its temporary folder


def test_sigterm_mid_stream_leaves_nothing(digits_run, tmp_path, monkeypatch, capsys):
    import os
    import signal

    from sslkit.testing import digits_impl

    real = digits_impl.DigitsDomain.eval_batches

    def terminated(self, split, batch_size):
        for i, batch in enumerate(real(self, split, batch_size)):
            if i == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            yield batch

    monkeypatch.setattr(digits_impl.DigitsDomain, "eval_batches", terminated)
    before = signal.getsignal(signal.SIGTERM)
    assert export(digits_run, "--to", "npy", "--out", tmp_path / "o", "--batch-size", 64) == 2
    assert "interrupted by SIGTERM" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def test_non_finite_embedding_names_the_row(digits_run, digits_arrays, tmp_path, capsys):
    x, y = digits_arrays
    x = x[:50].astype(float)
    x[37, 5] = np.inf
    np.savez(tmp_path / "inf.npz", x=x, y=y[:50])
    assert export(digits_run, "--data", tmp_path / "inf.npz", "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "not finite" in err and "37" in err
    assert not (tmp_path / "o").exists()
