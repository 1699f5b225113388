from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from sslkit.core.config import (
    RunConfig,
    TrainConfig,
    absolute_paths,
    apply_layer,
    apply_overrides,
    build_run_config,
    coerce,
    config_diff,
    field_docs,
    field_types,
    parse_toml,
    run_config_from_dict,
)
from sslkit.core.config_help import field_order
from sslkit.core.errors import ConfigError, UsageError
from sslkit.core.method_config import MethodOptions
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


@dataclass
class Retyped(Model):
    kind: Literal["mlp", "resnet", "gru"] = "gru"  # at the top: keeps the base's place
    heads: int = 4
    dims: tuple[int, ...] = (8,)  # below a new option: listed after it
    scale: ClassVar[float] = 2.0  # fixed by this config: no option
    norm: ClassVar = property(lambda self: self.heads > 1)  # read from options: no option


def test_help_order_follows_where_a_subclass_declares_a_field_again():
    assert field_order(Wider) == ["width", "kind", "dims", "scale", "norm", "depth"]
    assert field_order(Retyped) == ["width", "kind", "heads", "dims"]
    assert list(field_types(Retyped)) == ["width", "kind", "heads", "dims"]
    cfg = Retyped()
    assert (cfg.kind, cfg.dims, cfg.scale, cfg.norm) == ("gru", (8,), 2.0, True)
    with pytest.raises(ConfigError, match="unknown key 'method.scale'"):
        apply_overrides(RunConfig("d", "m", Data(), TrainConfig(), Retyped()), ["method.scale=3"])
    assert "scale" not in RunConfig("d", "m", Data(), TrainConfig(), Retyped()).to_dict()["method"]


@dataclass
class Encoded(MethodOptions):  # a plugin's encoder options on core's method options
    encoder: str = "gcn"
    width: int = 8


@dataclass
class OwnMethod(Encoded):
    tau: float = 0.5
    width: int = 16  # below a new option: listed after it


def test_help_lists_core_method_options_after_the_methods_own():
    assert field_order(MethodOptions) == ["matryoshka_dims"]
    assert field_order(Encoded) == ["encoder", "width", "matryoshka_dims"]
    assert field_order(OwnMethod) == ["encoder", "tau", "width", "matryoshka_dims"]
    assert field_order(digits.method("simclr").config)[-1] == "matryoshka_dims"


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


def test_domain_mismatch_in_a_file_names_the_command_not_a_domain_option():
    with pytest.raises(ConfigError) as info:
        apply_layer(make(), {"run": {"domain": "other"}}, "x.toml")
    assert "sslkit pretrain other" in str(info.value) and "--domain" not in str(info.value)
    with pytest.raises(ConfigError, match="pass --method other"):
        apply_layer(make(), {"run": {"method": "other"}}, "x.toml")


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("train.batch_size", "0", "at least 1"),
        ("train.accumulate", "0", "at least 1"),
        ("train.epochs", "-2", "at least 1"),
        ("train.max_steps", "-1", "at least 0"),
        ("train.lr", "-0.1", "greater than 0"),
        ("train.lr", "0", "greater than 0"),
        ("train.weight_decay", "-1", "at least 0"),
        ("train.min_lr_ratio", "1.5", "between 0 and 1"),
        ("train.keep_checkpoints", "0", "at least 1"),
        ("train.num_workers", "-1", "at least 0"),
    ],
)
def test_train_options_out_of_range_name_the_key_and_the_range(key, value, allowed):
    with pytest.raises(ConfigError, match=rf"{key} = .* is out of range: it must be {allowed}"):
        apply_overrides(make(), [f"{key}={value}"])


def test_train_options_at_the_edge_of_their_range_are_fine():
    cfg = apply_overrides(
        make(),
        ["train.batch_size=1", "train.max_steps=0", "train.min_lr_ratio=1", "train.lr=1e-9"],
    )
    assert cfg.train.batch_size == 1 and cfg.train.min_lr_ratio == 1.0
    with pytest.raises(ConfigError, match="train.accumulate = 0"):
        TrainConfig(accumulate=0)  # the Python API too


@pytest.mark.parametrize(
    ("text", "tp", "want"),
    [
        ("[512,256]", tuple[int, ...], (512, 256)),
        ("[512, 256]", list[int], [512, 256]),
        ("512,256", tuple[int, ...], (512, 256)),
        ("(512, 256)", tuple[int, ...], (512, 256)),
        ('["a(b)", "c"]', list[str], ["a(b)", "c"]),
        ('["x,y", "[z]"]', list[str], ["x,y", "[z]"]),
        ("['single quotes']", list[str], ["single quotes"]),
        ('"a", "b"', list[str], ["a", "b"]),
        ("[a, b]", list[str], ["a", "b"]),
        ("[]", list[str], []),
        ("", list[str], []),
    ],
)
def test_list_values_from_the_command_line(text, tp, want):
    assert coerce(text, tp, "data.columns") == want


@pytest.mark.parametrize("text", ['["a", "b"', "[1, [2]", '["a", b]', "[1, 2"])
def test_malformed_list_is_one_error_naming_the_key(text):
    with pytest.raises(ConfigError, match=r"data.columns = .* is not a valid list"):
        coerce(text, list[str], "data.columns")


def test_set_list_through_apply_overrides_keeps_brackets_inside_strings():
    @dataclass
    class Cols:
        path: str = ""
        columns: tuple[str, ...] = ()

    cfg = RunConfig("d", "m", Cols(), TrainConfig(), Model())
    cfg = apply_overrides(cfg, ['data.columns=["a(b)", "c"]'])
    assert cfg.data.columns == ("a(b)", "c")
    assert parse_toml(cfg.to_toml(), "saved")["data"]["columns"] == ["a(b)", "c"]


def test_set_quoted_string_keeps_commas_brackets_and_parentheses():
    @dataclass
    class Names:
        path: str = ""
        name: str = ""
        columns: tuple[str, ...] = ()

    cfg = RunConfig("d", "m", Names(), TrainConfig(), Model())
    cfg = apply_overrides(
        cfg, ['data.name="a,b[1]"', "data.path='x(1), y'", 'data.columns="a,b[1]"']
    )
    assert cfg.data.name == "a,b[1]"  # the string, without its quotes
    assert cfg.data.path == "x(1), y"
    assert cfg.data.columns == ("a,b[1]",)  # one item, not a list split at the comma
    assert apply_overrides(cfg, ["data.name=a,b"]).data.name == "a,b"  # unquoted: as typed
    assert parse_toml(cfg.to_toml(), "saved")["data"]["name"] == "a,b[1]"
    # a config file's string is TOML already: its quote characters are part of the value
    assert apply_layer(cfg, {"data": {"name": '"q"'}}, "f.toml").data.name == '"q"'


def test_build_run_config_records_which_keys_were_given(tmp_path):
    assert build_run_config(digits).explicit == frozenset()
    f = tmp_path / "c.toml"
    f.write_text("[train]\nseed = 4\n")
    cfg = build_run_config(
        digits,
        "simclr",
        preset="long",
        config_file=f,
        options={"train.batch_size": 64, "train.grad_clip": None},
        overrides=["embed_dim=24"],
    )
    assert {"run.method", "train.seed", "train.batch_size", "method.embed_dim"} <= cfg.explicit
    assert "train.epochs" in cfg.explicit  # the long preset sets it
    assert "train.grad_clip" not in cfg.explicit  # None: not given


def test_config_diff_names_each_differing_key():
    a = make()
    b = apply_overrides(a, ["train.lr=0.5", "method.width=3"])
    assert config_diff(a, b) == {"train.lr": (0.001, 0.5), "method.width": (8, 3)}
    assert config_diff(a, a) == {}


def test_absolute_paths_for_out_and_existing_data_files(tmp_path, monkeypatch):
    @dataclass
    class Paths:
        path: str = ""
        test_path: str = ""
        name: str = ""

    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.npz").write_bytes(b"")
    cfg = RunConfig("d", "m", Paths("d.npz", "adult", "d.npz"), TrainConfig(out="runs"), Model())
    got = absolute_paths(cfg)
    assert got.data.path == str(tmp_path / "d.npz")
    assert got.data.test_path == "adult"  # a data set name, not a file here: kept as given
    assert got.data.name == "d.npz"  # not a path field
    assert got.train.out == str(tmp_path / "runs")
