from __future__ import annotations

import sys

from sslkit.cli import pretrain


def test_peek_finds_method_in_both_spellings():
    assert pretrain._peek(["--epochs", "3", "--method", "scarf"], "--method") == "scarf"
    assert pretrain._peek(["--method=vime"], "--method") == "vime"
    assert pretrain._peek(["--epochs", "3"], "--method") is None


def test_hand_over_drops_nproc_and_keeps_everything_else(monkeypatch):
    seen = {}

    def fake_main(args):
        seen["args"] = args

    import torch.distributed.run as tdr

    monkeypatch.setattr(tdr, "main", fake_main)
    monkeypatch.setattr(
        sys,
        "argv",
        ["sslkit", "pretrain", "tabular", "--nproc-per-node", "2", "--set", "train.lr=0.1"],
    )
    pretrain.hand_over_to_torchrun(2)
    assert seen["args"] == [
        "--nproc-per-node=2",
        "-m",
        "sslkit.cli",
        "pretrain",
        "tabular",
        "--set",
        "train.lr=0.1",
    ]


def test_bundle_has_one_extra_per_plugin_and_all():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bundle = tomllib.loads((root / "packages/sslkit/pyproject.toml").read_text())
    extras = bundle["project"]["optional-dependencies"]
    plugins = sorted(
        p.name for p in (root / "plugins").iterdir() if (p / "pyproject.toml").is_file()
    )
    assert sorted(k for k in extras if k != "all") == plugins
    assert sorted(extras["all"]) == [f"sslkit-{p}" for p in plugins]
