"""The plugin end to end: conformance kit for every method, the probe on BBBP against chance
and a shuffled-label control, pretrain -> evaluate -> export through the CLI, and the report's
"did pretraining pay?" section."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from sslkit.molecules.plugin import plugin

SMALL = ["data.max_rows=160", "method.hidden_dim=16", "method.num_layers=2"]


@pytest.mark.conformance
def test_conformance_kit_passes_for_every_method(tmp_path):
    from sslkit.testing import check_plugin

    reports = check_plugin(
        plugin,
        overrides=SMALL,
        method_overrides={
            "molclr": ["method.feat_dim=16"],
            "mlm": ["method.ff_dim=32", "method.num_layers=1", "method.max_length=48"],
        },
        workdir=tmp_path / "runs",
    )
    assert set(reports) == {"attrmask", "contextpred", "graphmae", "molclr", "mlm"}


def test_probe_beats_chance_and_a_shuffled_label_control_on_bbbp(tmp_path):
    """A short attrmask run on the embedded BBBP: the scaffold-split probe is well above
    chance, and well above the same probe fitted on shuffled training labels."""
    from sslkit.core import api
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.molecules import tasks

    res = api.pretrain(
        "molecules",
        "attrmask",
        overrides=[
            "data.pretrain_data=self",
            "method.hidden_dim=64",
            "train.max_steps=10",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    ctx = TaskContext(None, res.config, res.data, res.method)
    real = tasks.property_prediction(ctx)
    assert real["roc_auc"] > 0.6 and real["tasks_scored"] == 1.0
    data = res.data
    train = data.split_index("train")
    rng = np.random.default_rng(0)
    shuffled = []
    original = data.labels.copy()
    try:
        for _ in range(3):
            data.labels[train] = original[train][rng.permutation(len(train))]
            shuffled.append(tasks.property_prediction(ctx)["roc_auc"])
    finally:
        data.labels[:] = original
    assert np.mean(shuffled) < 0.58 and real["roc_auc"] > np.mean(shuffled) + 0.05, shuffled


def test_report_answers_did_pretraining_pay(tmp_path):
    from sslkit.testing.payoff import pretrain_and_check

    options = ["data.max_rows=600", "method.hidden_dim=32", "method.num_layers=2",
               "train.max_steps=3"]  # fmt: skip
    report = pretrain_and_check(
        "molecules", "attrmask", options, tmp_path, "Morgan fingerprints (radius 2, 2048 bits)"
    )
    assert report["tasks"]["property_prediction"]["split"] == "scaffold"


def test_pretrain_evaluate_export_through_the_cli(tmp_path):
    import pandas as pd

    out = tmp_path / "runs"
    sslkit = [sys.executable, "-m", "sslkit.cli"]

    def run(*args: str) -> str:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # small models; a busy machine
        done = subprocess.run(
            [*sslkit, *args], capture_output=True, text=True, timeout=600, env=env
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    printed = run("pretrain", "molecules", "--method", "molclr", "--max-steps", "2",
                  "--set", "data.max_rows=300", "--set", "method.hidden_dim=16",
                  "--set", "method.num_layers=2", "--set", "method.feat_dim=16",
                  "--out", str(out), "--name", "cli")  # fmt: skip
    assert "property_prediction: roc_auc=" in printed and "Pretraining " in printed
    run("evaluate", str(out / "cli"), "--task", "property_prediction")
    smi = tmp_path / "library.smi"
    smi.write_text("CCO ethanol\nc1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    run("export", str(out / "cli"), "--data", str(smi), "--to", "parquet",
        "--out", str(tmp_path / "emb"))  # fmt: skip
    files = sorted((tmp_path / "emb").glob("*.parquet"))
    table = pd.concat(pd.read_parquet(f) for f in files)
    assert len(table) == 3 and len(table["embedding"].iloc[0]) == 16


def test_pretrain_on_a_users_small_csv(user_csv, tmp_path):
    """Six rows, two label columns with gaps, a salt and an invalid SMILES: pretraining and
    the default task run (tasks whose test molecules hold one class are not scored)."""
    from sslkit.core import api

    res = api.pretrain(
        "molecules",
        "molclr",
        overrides=[
            f"data.path={user_csv}",
            "data.split=random",
            "data.pretrain_on=all",
            "method.hidden_dim=8",
            "method.num_layers=2",
            "method.feat_dim=8",
            "train.max_steps=2",
            "train.batch_size=4",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        log=lambda *_: None,
    )
    assert res.steps == 2
    assert res.data.tasks == ["active", "toxic"] and res.data.facts["invalid"] == 1


def test_regression_on_esol_reports_rmse(tmp_path):
    from sslkit.core import api

    res = api.pretrain(
        "molecules",
        "attrmask",
        overrides=[
            "data.path=esol",
            "data.pretrain_data=self",
            "data.featuriser=ogb",
            "method.hidden_dim=16",
            "method.num_layers=2",
            "train.max_steps=2",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        log=lambda *_: None,
    )
    report = api.evaluate(res.run_dir, task="property_prediction", control=False)
    metrics = report["tasks"]["property_prediction"]
    y = res.data.labels[:, 0]
    assert res.data.task_kind() == "regression"
    # a probe on near-untrained embeddings: worse than perfect, better than wild guesses
    assert 0.3 < metrics["rmse"] < 3 * float(np.std(y)), metrics
    assert metrics["probe"].startswith("ridge")


def test_pretrain_on_an_unlabelled_library_then_evaluate_on_bbbp(tmp_path):
    """ZINC-style use: pretrain on a .smi library (no labels), then score the encoder on the
    embedded BBBP's scaffold split with ``evaluate --data``."""
    from sslkit.core import api

    smi = tmp_path / "library.smi"
    smi.write_text(
        "\n".join(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "C1CCNCC1"] * 8)
    )
    res = api.pretrain(
        "molecules",
        "attrmask",
        overrides=[
            f"data.path={smi}",
            "method.hidden_dim=16",
            "method.num_layers=2",
            "train.max_steps=2",
            "train.batch_size=8",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        log=lambda *_: None,
    )
    assert len(res.data.train_dataset()) == 40 and res.data.task_kind() == "none"
    from sslkit.molecules.similarity import search

    found = search(str(res.run_dir), ["CCO", "c1ccccc1O"], k=3)
    assert [r["query"] for r in found] == ["CCO"] * 3 + ["Oc1ccccc1"] * 3
    # the library holds each query 8 times: its top neighbours are itself (Tanimoto 1)
    assert all(r["smiles"] == r["query"] and r["tanimoto"] == 1.0 for r in found)
    assert all(abs(r["cosine"] - 1) < 1e-5 for r in found)
    report = api.evaluate(res.run_dir, task="property_prediction", data="bbbp", control=False)
    assert report["tasks"]["property_prediction"]["roc_auc"] > 0.5


def test_did_pretraining_pay_scores_every_task_of_multi_task_data(tmp_path):
    """Two label columns with gaps: the verdict's scores are the mean of each task's, the
    same as the data with that task alone gives (the split is the same, by SMILES)."""
    import pandas as pd

    from sslkit.core import api
    from sslkit.core.evaluate.control import assess, control_context
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.molecules.data.reading import read_table

    frame = read_table("bbbp").frame.iloc[:600].reset_index(drop=True)
    smiles = frame["smiles"].astype(str)
    table = pd.DataFrame({"smiles": smiles, "p_np": frame["p_np"].astype(float),
                          "nitrogens": (smiles.str.count("N") >= 2).astype(float)})  # fmt: skip
    table.loc[::7, "p_np"] = np.nan
    table.loc[::5, "nitrogens"] = np.nan
    files = {}
    for name, cols in {"both": ["p_np", "nitrogens"], "a": ["p_np"], "b": ["nitrogens"]}.items():
        files[name] = tmp_path / f"{name}.csv"
        table[["smiles", *cols]].to_csv(files[name], index=False)
    res = api.pretrain(
        "molecules", "attrmask", evaluate_default_task=False, log=lambda *_: None,
        overrides=[f"data.path={files['both']}", "method.hidden_dim=16", "method.num_layers=2",
                   "train.max_steps=2", f"train.out={tmp_path}", "train.quiet=true"],
    )  # fmt: skip
    sections = {}
    for name, path in files.items():
        loaded = api.load_run(res.run_dir, data=str(path))
        ctx = TaskContext(None, loaded.config, loaded.data, loaded.method)
        sections[name] = assess(loaded.plugin, ctx, control_context(ctx), fractions=(1.0,), seeds=1)
    both, a, b = sections["both"], sections["a"], sections["b"]
    assert both["tasks"] == 2 and "tasks" not in a and "the 2 of 2 tasks" in both["verdict"]["line"]
    for row, ra, rb in zip(both["rows"], a["rows"], b["rows"], strict=True):
        assert (row["features"], row["model"]) == (ra["features"], ra["model"])
        assert row["mean"] == pytest.approx((ra["mean"] + rb["mean"]) / 2, abs=1e-9)
    assert a["rows"][0]["mean"] != pytest.approx(b["rows"][0]["mean"], abs=1e-6)


def test_the_long_graphmae_preset_is_the_benchmarked_budget():
    """`--preset long` resolves to the run of benchmarks/results/molecules-long-graphmae.json
    (`--set train.epochs=10`): 10 passes, the default's step floor dropped, the rest default."""
    from dataclasses import replace

    from sslkit.testing import check_preset_is_overrides

    long, default = check_preset_is_overrides(plugin, "graphmae", "long", ["train.epochs=10"])
    assert (long.train.epochs, long.train.steps, long.train.min_steps) == (10, 0, 0)
    assert long.data == default.data and long.model == default.model
    assert replace(long.train, epochs=1, min_steps=0, warn_below_steps=0) == replace(
        default.train, min_steps=0, warn_below_steps=0
    )


def test_a_reused_long_run_keeps_its_overrides_in_the_benchmark():
    """benchmarks/molecules.py --run graphmae=RUN on a 10-pass run: the saved run's recipe keys
    (data, train, model) that differ from the default preset are its overrides (its own table
    row, named by its steps and its other overrides); plumbing is not."""
    from sslkit.core.config import build_run_config, parse_toml, run_config_from_dict
    from sslkit.testing.benchmarks import load_benchmark

    bench = load_benchmark(__file__, "molecules")

    def saved(sets):  # as a run folder's config.toml is read back by open_run
        cfg = build_run_config(plugin, "graphmae", overrides=sets)
        return run_config_from_dict(plugin, parse_toml(cfg.to_toml(), "config.toml"), "x")

    plumbing = ["train.out=/elsewhere", "train.quiet=true", "train.monitor_every=0"]
    assert bench.run_overrides(plugin, saved(["train.epochs=10", *plumbing])) == [
        "train.epochs=10",
        "train.min_steps=0",
    ]
    assert bench.run_overrides(plugin, saved(["data.featuriser=ogb"])) == ["data.featuriser=ogb"]
    assert bench.run_overrides(plugin, saved(plumbing)) == []
    # the row names: a longer run by its steps; another recipe at the same steps apart from it
    long = {"overrides": ["train.epochs=30", "train.min_steps=0"], "steps": 3450}
    ogb = {"overrides": ["data.featuriser=ogb"], "steps": 115}
    assert bench.row_name("graphmae", long) == "graphmae (3450 steps)"
    assert bench.row_name("graphmae", ogb) == "graphmae (115 steps; data.featuriser=ogb)"
    assert bench.row_name("graphmae", {"overrides": [], "steps": 115}) == "graphmae"
    # the paired comparison against no pretraining: diffs +0.05 and +0.02 (BBBP, higher is
    # better), mean +0.035, standard error std([0.05, 0.02], ddof=1) / sqrt(2) = 0.015
    pretraining = {"steps": 115}
    seeds = {k: {"test_at_best_val": v} for k, v in (("0", 0.65), ("1", 0.72))}
    none = {k: {"test_at_best_val": v} for k, v in (("0", 0.60), ("1", 0.70), ("2", 0.9))}
    merged = {
        "graphmae": {"pretraining": pretraining, "bbbp": {"seeds": seeds}},
        # mlm is compared with its own untrained Transformer, not the GIN: ESOL RMSE diffs
        # -0.1 and +0.3 (lower is better), mean +0.1, std([-0.1, 0.3], ddof=1) / sqrt(2) = 0.2
        "mlm": {
            "esol": {"seeds": {"0": {"test_at_best_val": 1.0}, "1": {"test_at_best_val": 1.4}}}
        },
        "none-mlm": {
            "esol": {"seeds": {k: {"test_at_best_val": v} for k, v in (("0", 1.1), ("1", 1.1))}}
        },
        "none": {
            "bbbp": {"seeds": none},
            "esol": {"seeds": {"0": {"test_at_best_val": 9.0}, "1": {"test_at_best_val": 9.0}}},
        },
    }
    assert bench.paired_lines(merged) == [
        "bbbp graphmae: +0.0350 ± 0.0150 against none on 2 seeds (t +2.33), 2 of them better",
        "esol mlm: +0.1000 ± 0.2000 against none-mlm on 2 seeds (t +0.50), 1 of them better",
    ]
    # seeds that record the last epoch get its line too (GraphMAE's protocol): BBBP diffs
    # 0.60 - 0.62 = -0.02 and 0.66 - 0.70 = -0.04, mean -0.03, std([-0.02, -0.04], ddof=1) /
    # sqrt(2) = 0.01, t -3.0, no seed better
    for k, mine, base in (("0", 0.60, 0.62), ("1", 0.66, 0.70)):
        seeds[k]["test_last"], none[k]["test_last"] = mine, base
    assert bench.paired_lines(merged)[1] == (
        "bbbp graphmae (last epoch): -0.0300 ± 0.0100 against none on 2 seeds (t -3.00), "
        "0 of them better"
    )


def test_a_run_pretrained_again_elsewhere_joins_its_row_when_its_probes_match():
    """benchmarks/molecules.py --table: a later file's run in another folder adds its seeds to
    the row when its probes equal the earlier run's (the same recipe and seed pretrained again),
    and replaces the row when they differ (another model), in the same folder too."""
    from sslkit.testing.benchmarks import load_benchmark

    bench = load_benchmark(__file__, "molecules")

    def result(run, probe, seed, score):
        facts = {"run": run, "overrides": ["train.epochs=10"], "steps": 1150, "cpu_seconds": 9.0}
        fine = {"epochs": 100, "test_at_best_val": score, "test_last": score, "cpu_seconds": 1.0}
        bbbp = {"probe": {"test": probe, "val": 0.8}, "seeds": {seed: fine}}
        return {"methods": {"graphmae": {"pretraining": facts, "bbbp": bbbp}}}

    first = result("/a/molecules-graphmae", 0.629050925925926, "0", 0.70)
    again = result("/b/molecules-graphmae", 0.629050925925926, "3", 0.68)
    other = result("/b/molecules-graphmae", 0.629050925925927, "3", 0.68)
    row = bench._merged([first, again])["graphmae (1150 steps)"]
    assert (
        sorted(row["bbbp"]["seeds"]) == ["0", "3"]
        and row["pretraining"]["run"] == "/a/molecules-graphmae"
    )
    row = bench._merged([first, other])["graphmae (1150 steps)"]
    assert (
        sorted(row["bbbp"]["seeds"]) == ["3"]
        and row["pretraining"]["run"] == "/b/molecules-graphmae"
    )
    # the same folder pretrained again into, another model (another host's arithmetic)
    redone = result("/a/molecules-graphmae", 0.6358989197530863, "5", 0.65)
    row = bench._merged([first, redone])["graphmae (1150 steps)"]
    assert sorted(row["bbbp"]["seeds"]) == ["5"] and row["bbbp"]["probe"]["test"] < 0.64
    # where both files record the weights' digest, it decides, whatever the probes
    first["methods"]["graphmae"]["pretraining"]["weights"] = "aa"
    again["methods"]["graphmae"]["pretraining"]["weights"] = "bb"
    assert sorted(bench._merged([first, again])["graphmae (1150 steps)"]["bbbp"]["seeds"]) == ["3"]
    again["methods"]["graphmae"]["pretraining"]["weights"] = "aa"
    assert sorted(bench._merged([first, again])["graphmae (1150 steps)"]["bbbp"]["seeds"]) == [
        "0",
        "3",
    ]


def test_the_weights_digest_names_the_weights():
    """benchmarks/molecules.py: equal weights give equal digests; one changed value another."""
    import torch

    from sslkit.testing.benchmarks import load_benchmark

    bench = load_benchmark(__file__, "molecules")
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert bench.weights_digest(a) == bench.weights_digest(b)
    with torch.no_grad():
        b.bias[0] += 1e-6
    assert bench.weights_digest(a) != bench.weights_digest(b)


def test_the_benchmark_library_leaves_out_every_bbbp_and_esol_molecule(tmp_path):
    """benchmarks/molecule_library.py: a BBBP molecule written another way and a stereoisomer
    of another BBBP molecule are left out, an ESOL molecule too; a duplicate is kept once, an
    invalid SMILES counted; what is left is written as `SMILES source:row`."""
    from rdkit import Chem

    from sslkit.testing.benchmarks import load_benchmark

    bench = load_benchmark(__file__, "molecule_library")
    penicillin = "Cc1onc(c2ccccc2Cl)c1C(=O)N[C@H]3[C@H]4SC(C)(C)[C@@H](N4C3=O)C(O)=O"  # BBBP row 5
    rows = [
        "CC(C)NCC(O)COc1cccc2ccccc12.[Cl]",  # BBBP row 1, fragments swapped
        penicillin.replace("@@", "@"),  # a stereoisomer of BBBP row 5
        "Cc1occc1C(=O)Nc2ccccc2",  # ESOL row 2
        "c1ccc2c(c1)CCCC2O",  # new
        "OC1CCCc2ccccc21",  # the same molecule again
        "C1CC(",  # invalid
        "CCOC(=O)c1ccncc1",  # new
    ]
    (tmp_path / "a.csv").write_text(
        "name,smiles\n" + "".join(f"m{i},{s}\n" for i, s in enumerate(rows))
    )
    out = tmp_path / "lib.smi"
    facts = bench.build([tmp_path / "a.csv"], out, base=())
    assert facts["sources"]["a.csv"] == {"bbbp_or_esol": 3, "kept": 2, "duplicate": 1, "invalid": 1}
    assert out.read_text().splitlines() == [
        f"{Chem.CanonSmiles('c1ccc2c(c1)CCCC2O')} a.csv:3",
        f"{Chem.CanonSmiles('CCOC(=O)c1ccncc1')} a.csv:6",
    ]
