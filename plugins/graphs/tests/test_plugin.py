"""The plugin contract: light import, presets, and the conformance kit on a small graph."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from sslkit.graphs.plugin import plugin


def test_plugin_module_imports_no_torch():
    code = (
        "import sys, sslkit.graphs.plugin as p; "
        "assert 'torch' not in sys.modules and 'torch_geometric' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith('torch'))[:5]; print(len(p.plugin.methods))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "8"


def test_every_method_has_a_default_preset():
    from sslkit.core.config import build_run_config

    for name in plugin.methods:
        assert "default" in plugin.preset_names(name), name
        cfg = build_run_config(plugin, name)
        preset = tomllib.loads(plugin.preset_text(name, "default"))
        for key, value in preset.get("train", {}).items():  # the preset's values are applied
            assert getattr(cfg.train, key) == value, (name, key)
    assert build_run_config(plugin, "hypeboy").data.path == "cocitation-cora"
    assert build_run_config(plugin, "graphmae").model.l2 == pytest.approx(2e-4)


def _small_graph_overrides(paths: dict[str, str]) -> list[str]:
    return [
        f"data.path={paths['path']}",
        f"data.features={paths['features']}",
        f"data.labels={paths['labels']}",
        "data.normalize=none",
    ]


@pytest.mark.conformance
def test_conformance(tmp_path, make_csv_graph):
    """Every method (node and hypergraph ones; the small graph is read as the hypergraph of
    its nodes' neighbourhoods): 2-process DDP, every export format, SIGTERM + resume."""
    from sslkit.testing import check_plugin

    paths = make_csv_graph(tmp_path, n_per_class=15)
    small = {name: ["method.hidden_dim=16"] for name in plugin.methods}
    small["bgrl"] = ["method.hidden_dims=[32,16]"]
    small["hypeboy"].append("method.warmup_epochs=2")  # both stages within the 4 steps
    small["tricl"].append("method.proj_dim=16")
    reports = check_plugin(
        plugin,
        overrides=_small_graph_overrides(paths),
        method_overrides=small,
        workdir=tmp_path / "runs",
    )
    assert set(reports) == set(plugin.methods) and len(reports) == 8
    nc = reports["grace"]["tasks"]["node_classification"]
    assert nc["random_test_acc_mean"] > 0.5  # three balanced blocks: chance is 1/3


def test_link_prediction_with_held_out_edges(tmp_path, make_csv_graph):
    from sslkit.core import api

    paths = make_csv_graph(tmp_path)
    res = api.pretrain(
        "graphs",
        "grace",
        overrides=[
            *_small_graph_overrides(paths),
            "data.holdout_edges=0.2",
            "train.max_steps=5",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    report = api.evaluate(res.run_dir, task="link_prediction")
    lp = report["tasks"]["link_prediction"]
    # a block-model graph: held-out edges join nodes of one block, sampled non-edges mostly not
    assert lp["auc"] > 0.6 and lp["held_out_edges"] > 0, lp


@pytest.mark.slow
def test_default_pretrain_on_embedded_cora(tmp_path):
    """`sslkit pretrain graphs` with no arguments: GRACE on the embedded Cora."""
    from sslkit.core import api

    res = api.pretrain(
        "graphs",
        overrides=[f"train.out={tmp_path}", "train.quiet=true", "train.epochs=20"],
        log=lambda *_: None,
    )
    assert res.metrics["public_test_acc"] > 0.5
