from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from sslkit.core.config import (
    RunConfig,
    TrainConfig,
    apply_layer,
    apply_overrides,
    build_run_config,
    coerce,
    field_docs,
    parse_toml,
    run_config_from_dict,
)
from sslkit.core.errors import ConfigError, UsageError
from sslkit.testing.digits import plugin as digits


@dataclass
class Model:
    width: int = 8
    """Hidden width."""
    kind: Literal["mlp", "resnet"] = "mlp"
    dims: tuple[int, ...] = ()
    scale: float | None = None
    norm: bool = True


@dataclass
class Data:
    path: str = ""
    lr: float = 0.0  # collides with train.lr on purpose


def make() -> RunConfig:
    return RunConfig("d", "m", Data(), TrainConfig(), Model())


def test_coerce_each_type():
    assert coerce("3", int, "k") == 3
    assert coerce("1e3", int, "k") == 1000
    assert coerce("0.5", float, "k") == 0.5
    assert coerce("yes", bool, "k") is True and coerce("off", bool, "k") is False
    assert coerce("resnet", Literal["mlp", "resnet"], "k") == "resnet"
    assert coerce("64,32", tuple[int, ...], "k") == (64, 32)
    assert coerce([8, 4], tuple[int, ...], "k") == (8, 4)
    assert coerce("none", float | None, "k") is None
    assert coerce("2", float | None, "k") == 2.0
    with pytest.raises(ConfigError, match="expected an integer"):
        coerce("2.5", int, "model.width")
    with pytest.raises(ConfigError, match="choose one of: mlp, resnet"):
        coerce("cnn", Literal["mlp", "resnet"], "model.kind")
    with pytest.raises(ConfigError, match="expected true or false"):
        coerce("maybe", bool, "k")


def test_overrides_dotted_bare_and_errors():
    cfg = apply_overrides(make(), ["method.width=16", "epochs=3", "dims=4,2", "train.lr=0.01"])
    assert cfg.model.width == 16 and cfg.train.epochs == 3 and cfg.model.dims == (4, 2)
    assert cfg.train.lr == 0.01
    with pytest.raises(ConfigError, match=r"several sections; write one of: data.lr, train.lr"):
        apply_overrides(make(), ["lr=0.1"])
    with pytest.raises(ConfigError, match="unknown key 'widht'; valid keys: .*method.width"):
        apply_overrides(make(), ["widht=3"])
    with pytest.raises(
        ConfigError, match=r"unknown key 'method.nope'; valid keys in \[method\]: width, kind"
    ):
        apply_overrides(make(), ["method.nope=3"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(make(), ["width"])


def test_layers_and_toml_round_trip():
    layer = parse_toml(
        '[run]\ndomain = "d"\n[train]\nepochs = 7\n[method]\nkind = "resnet"\n', "x.toml"
    )
    cfg = apply_layer(make(), layer, "x.toml")
    assert cfg.train.epochs == 7 and cfg.model.kind == "resnet"
    with pytest.raises(ConfigError, match=r"x.toml: unknown section \[trian\]"):
        apply_layer(make(), {"trian": {}}, "x.toml")
    with pytest.raises(ConfigError, match="domain = 'other'"):
        apply_layer(make(), {"run": {"domain": "other"}}, "x.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_toml("[train\n", "bad.toml")
    text = cfg.to_toml()
    again = apply_layer(make(), parse_toml(text, "saved"), "saved")
    assert again == cfg


@dataclass
class Wider(Model):
    depth: int = 2
    """Layers."""


def test_field_docs_read_attribute_docstrings_including_inherited():
    assert field_docs(Model)["width"] == "Hidden width."
    assert field_docs(Wider) == {"width": "Hidden width.", "depth": "Layers."}


def test_build_run_config_layers_in_order(tmp_path):
    # dataclass default 32 < preset `default` (no embed_dim) < --preset long (64) < file (48) < options < --set
    cfg = build_run_config(digits, "simclr")
    assert cfg.train.epochs == 5 and cfg.model.embed_dim == 32  # the `default` preset applies
    cfg = build_run_config(digits, "simclr", preset="long")
    assert cfg.train.epochs == 30 and cfg.model.embed_dim == 64
    f = tmp_path / "c.toml"
    f.write_text("[method]\nembed_dim = 48\n")
    cfg = build_run_config(digits, "simclr", preset="long", config_file=f)
    assert cfg.model.embed_dim == 48
    cfg = build_run_config(
        digits,
        "simclr",
        preset="long",
        config_file=f,
        options={"method.embed_dim": 40},
        overrides=["embed_dim=24"],
    )
    assert cfg.model.embed_dim == 24
    with pytest.raises(
        UsageError, match="unknown preset 'fast' for digits/simclr; available: default, long"
    ):
        build_run_config(digits, "simclr", preset="fast")
    with pytest.raises(UsageError, match="unknown method 'byol'; available: simclr"):
        build_run_config(digits, "byol")
    with pytest.raises(ConfigError, match="config file .* does not exist"):
        build_run_config(digits, config_file=tmp_path / "missing.toml")


def test_saved_config_rebuilds_the_same_run_config():
    cfg = build_run_config(digits, overrides=["method.matryoshka_dims=8,16", "train.seed=3"])
    back = run_config_from_dict(digits, parse_toml(cfg.to_toml(), "saved"), "saved")
    assert back == cfg
