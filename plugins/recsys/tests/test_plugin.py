"""The plugin end to end: the conformance kit for every method (both embedding spaces
exported), pretrain -> evaluate -> export through the CLI with the FAISS top 20 equal to the
evaluation's, and the default data against item popularity and the untrained control."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sslkit.recsys.plugin import plugin

SAMPLE = ["data.path=online-retail-sample", "data.max_users=120"]
SMALL = [*SAMPLE, "method.embed_dim=16", "method.num_layers=2"]


@pytest.mark.conformance
def test_conformance_kit_passes_for_every_method(tmp_path):
    from sslkit.testing import check_plugin

    graph = ["method.num_layers=2"]
    reports = check_plugin(
        plugin, overrides=[*SAMPLE, "method.embed_dim=16"], workdir=tmp_path / "runs",
        method_overrides={"lightgcn": graph, "simgcl": graph, "xsimgcl": graph, "sgl": graph,
                          "twotower": ["method.feature_dim=8", "method.hidden=16",
                                       "data.cold_items=0.1"]},
    )  # fmt: skip
    assert set(reports) == {"lightgcn", "simgcl", "xsimgcl", "sgl", "twotower"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see the one_thread fixture
    return subprocess.run(
        [sys.executable, "-m", "sslkit.cli", *args],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def test_pretrain_evaluate_export_through_the_cli_and_faiss_top20(tmp_path):
    import faiss
    import pandas as pd

    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.recsys.tasks import faiss_agreement

    out = tmp_path / "runs"
    sets = ["--set", "data.path=online-retail-sample", "--set", "train.max_steps=30",
            "--set", "method.embed_dim=16", "--set", "train.lr=0.01"]  # fmt: skip
    done = _cli("pretrain", "recsys", "--method", "lightgcn", "--out", str(out), "--name", "r",
                "--device", "cpu", *sets)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "recommend: recall@10=" in done.stdout and "popularity_recall@20=" in done.stdout
    run = out / "r"
    done = _cli("evaluate", str(run), "--task", "recommend")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((run / "report" / "report.json").read_text())
    rec = report["tasks"]["recommend"] if "tasks" in report else report["recommend"]
    # 30 steps of LightGCN on the sample: far above the untrained encoder's near-zero recall
    assert rec["recall@20"] > 3 * rec["control_recall@20"] and "verdict" in rec
    # report.md answers "did pretraining pay?" in core's form, with the task's own baselines
    md = (run / "report" / "report.md").read_text()
    section = md.split("## Did pretraining pay?", 1)[1].split("\n## ", 1)[0]
    assert rec["verdict"] in section and "label_efficiency" not in section
    assert "| untrained control | inner product, recall@20 |" in section
    assert (
        f"| item popularity | training counts, recall@20 | {rec['popularity_recall@20']:.4f}"
        in (section)
    )
    for space in ("user", "item"):
        done = _cli("export", str(run), "--to", "parquet", "--space", space,
                    "--out", str(tmp_path / f"{space}-pq"))  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    done = _cli("export", str(run), "--to", "faiss", "--space", "item", "--metric", "ip",
                "--out", str(tmp_path / "item-faiss"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]

    users = pd.read_parquet(next((tmp_path / "user-pq").rglob("*.parquet")))
    items = pd.read_parquet(next((tmp_path / "item-pq").rglob("*.parquet")))
    loaded = api.load_run(run)
    data = loaded.data
    # the user's own ids: customers and stock codes, in the rows of the run's id maps
    assert users["id"].astype(str).tolist() == data.users.tolist()
    assert items["id"].astype(str).tolist() == data.items.tolist()
    index = faiss.read_index(str(next((tmp_path / "item-faiss").rglob("*.faiss"))))
    assert index.ntotal == len(items)
    u = np.stack(users["embedding"].to_numpy()).astype(np.float32)
    v = np.stack(items["embedding"].to_numpy()).astype(np.float32)
    # the exported vectors are the ones the evaluation scores (the recommend task's embeddings)
    from sslkit.recsys.tasks import _embeddings

    ctx = TaskContext(loaded.run_dir, loaded.config, data, loaded.method)
    scored_u, scored_v = _embeddings(ctx)
    np.testing.assert_allclose(u, scored_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, scored_v, rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(np.unique(data.rows("test")[0]), 50, replace=False))
    # FAISS: searched deep enough to pass over the user's training items, masked the same way
    assert faiss_agreement(index, u, v, data, sample) == []
    # and the check notices a wrong index (the items' order reversed)
    wrong = faiss.IndexFlatIP(v.shape[1])
    wrong.add(np.ascontiguousarray(v[::-1]))
    assert len(faiss_agreement(wrong, u, v, data, sample)) > 40


def test_default_data_against_popularity_and_the_untrained_control(tmp_path, one_thread):
    """A short LightGCN on the shipped sample: far above the untrained control; against item
    popularity it is reported either way (Online Retail is popularity-heavy: see
    docs/recsys.md for the full-budget numbers)."""
    from sslkit.core import api

    result = api.pretrain(
        "recsys", "lightgcn",
        overrides=[*SAMPLE[:1], "train.out=" + str(tmp_path), "train.quiet=true",
                   "train.max_steps=80", "train.lr=0.01", "train.device=cpu",
                   "train.batch_size=512"],
    )  # fmt: skip
    m = result.metrics
    assert m["recall@20"] > 2 * m["control_recall@20"]
    assert m["popularity_recall@20"] > 0.02
    assert ("not above" in m["verdict"]) == (m["recall@20"] <= m["popularity_recall@20"])
    assert 0 < m["selected_step"] <= 80


@pytest.mark.parametrize("space", ["user", "item"])
def test_both_spaces_export_an_encoder_that_loads_alone(tmp_path, space, one_thread):
    """safetensors and ONNX of each space: the encoder rebuilt from the export folder alone
    (the graph travels in its buffers) and the ONNX table give the run's embeddings."""
    import onnxruntime as ort
    import torch

    from sslkit.core import api
    from sslkit.core.export import load_encoder

    result = api.pretrain(
        "recsys", "simgcl",
        overrides=[*SMALL, f"train.out={tmp_path}", "train.quiet=true", "train.max_steps=5",
                   "train.device=cpu"],
        evaluate_default_task=False,
    )  # fmt: skip
    rows = torch.arange(result.data.n[space])
    expected = result.method.embed(rows, space=space).detach().numpy()
    folder = api.export(result.run_dir, to="safetensors", space=space, out=tmp_path / "st")
    encoder = load_encoder(folder)
    assert np.allclose(encoder(rows).detach().numpy(), expected, atol=1e-5)
    folder = api.export(result.run_dir, to="onnx", space=space, out=tmp_path / "onnx")
    session = ort.InferenceSession(str(next(folder.rglob("*.onnx"))))
    name = session.get_inputs()[0].name
    got = session.run(None, {name: rows.numpy()})[0]
    assert np.allclose(got, expected, atol=1e-5)


def test_matryoshka_sizes_train_and_export_as_prefixes(tmp_path, one_thread):
    from sslkit.core import api

    result = api.pretrain(
        "recsys", "xsimgcl",
        overrides=[*SMALL, f"train.out={tmp_path}", "train.quiet=true", "train.max_steps=3",
                   "train.device=cpu", "method.matryoshka_dims=[8]"],
        evaluate_default_task=False,
    )  # fmt: skip
    assert result.method.nested_dims == (8, 16)
    full = np.load(api.export(result.run_dir, to="npy", space="item", out=tmp_path / "f")
                   / "embeddings.npy")  # fmt: skip
    part = np.load(api.export(result.run_dir, to="npy", space="item", out=tmp_path / "p", dim=8)
                   / "embeddings.npy")  # fmt: skip
    np.testing.assert_allclose(part, full[:, :8], atol=1e-6)


@pytest.mark.parametrize(
    ("content", "sets", "expected"),
    [
        ("customer,product\nalice,p1\n", [],
         "no user column; the columns are customer, product"),
        ("user,item\nu1,a\nu1,b\nu2,a\nu2,b\n",
         ["--set", "data.test_path={test}", "--set", "data.unknown=error"],
         "1 test interactions name users or items never seen in training; the first is item 'z'"),
    ],
)  # fmt: skip
def test_bad_input_through_the_cli_is_one_line_and_exit_code_2(tmp_path, content, sets, expected):
    (tmp_path / "log.csv").write_text(content)
    (tmp_path / "test.csv").write_text("user,item\nu1,z\nu2,a\n")
    sets = [s.format(test=tmp_path / "test.csv") for s in sets]
    done = _cli("pretrain", "recsys", "--data", str(tmp_path / "log.csv"), "--out",
                str(tmp_path / "runs"), "--device", "cpu", *sets)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert str(tmp_path / "log.csv") in done.stderr or "test.csv" in done.stderr


def test_patience_stops_training_and_keeps_the_best_validation_weights(tmp_path, one_thread):
    """method.patience: two validation measurements without a new best end the run (core's
    Method.stop_requested) with the weights of the best one, which the export then holds."""
    from sslkit.core import api

    result = api.pretrain(
        "recsys", "lightgcn",
        overrides=[*SMALL, f"train.out={tmp_path}", "train.quiet=true", "train.device=cpu",
                   "train.max_steps=400", "train.lr=0.05", "train.batch_size=128",
                   "method.eval_every=5", "method.patience=2"],
        evaluate_default_task=False,
    )  # fmt: skip
    m = result.method
    best_step = int(m.best[1])
    assert result.steps < 400 and result.steps == best_step + 10
    assert [p.step for p in m.curve] == list(range(5, result.steps + 1, 5))
    assert max(p.recall for p in m.curve) == pytest.approx(float(m.best[0]), rel=1e-6)
    # the weights are the best measurement's: measuring them again gives its recall and NDCG
    best = max(m.curve, key=lambda p: p.recall)
    assert m.validation_metrics() == pytest.approx((best.recall, best.ndcg), rel=1e-6)
    assert m.curve[-1].recall < float(m.best[0])
    assert 0 < m.curve[0].eval_cpu_seconds < m.curve[-1].eval_cpu_seconds < m.curve[-1].cpu_seconds
    # resumed from its last checkpoint, the stopped run stays stopped with the same weights
    again = api.pretrain(
        "recsys", "lightgcn",
        overrides=[f"train.out={tmp_path}", "train.quiet=true", "train.resume=true"],
        evaluate_default_task=False,
    )  # fmt: skip
    assert again.steps == result.steps and "before the resume" in again.method.stop_requested()
    assert again.method.validation_recall() == pytest.approx(float(m.best[0]), rel=1e-6)
