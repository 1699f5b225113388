"""Typed run configuration: dataclasses, TOML presets and ``key=value`` overrides.

A run's configuration has four parts, saved together as ``config.toml`` in the run folder::

    [run]     # which domain and method
    domain = "tabular"
    method = "tjepa"
    [data]    # the plugin's data-config dataclass
    [train]   # TrainConfig: the engine's options, shared by every domain
    [method]  # the method's config dataclass

Layers, each overriding the one before: dataclass defaults, the method's ``default`` preset (if
it ships one), ``--preset``, ``--config FILE.toml``, named CLI options, ``--set key=value``.
One rule across layers: an explicit ``train.epochs`` without an explicit ``train.steps`` or
``train.min_steps`` replaces the default preset's step budget (``--epochs 100`` is 100 passes).
A key is ``section.field`` or a bare field name that only one section has.

No torch here: the CLI builds its options from these dataclasses before importing anything heavy.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from sslkit.core.config_coerce import (
    CommandLineText,
    coerce,
    field_types,
    from_mapping,
)
from sslkit.core.config_help import field_docs
from sslkit.core.config_schema import SECTIONS, RunConfig, TrainConfig
from sslkit.core.errors import ConfigError

__all__ = [
    "SECTIONS",
    "CommandLineText",
    "RunConfig",
    "TrainConfig",
    "absolute_paths",
    "apply_layer",
    "apply_overrides",
    "build_run_config",
    "coerce",
    "config_diff",
    "field_docs",
    "field_types",
    "from_mapping",
    "load_toml",
    "locate_key",
    "parse_toml",
    "run_config_from_dict",
]

# ---------------------------------------------------------------------------------------------
# layering


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    return parse_toml(p.read_text(encoding="utf-8"), str(p))


def apply_layer(cfg: RunConfig, layer: dict[str, Any], source: str) -> RunConfig:
    """Apply one TOML layer (``{"train": {...}, "method": {...}, "data": {...}}``)."""
    layer = dict(layer)
    run = layer.pop("run", {})
    if not isinstance(run, dict) or set(run) - {"domain", "method"}:
        raise ConfigError(f"{source}: [run] holds only domain = ... and method = ...")
    if isinstance(layer.get("domain"), str):
        run.setdefault("domain", layer.pop("domain"))
    if isinstance(layer.get("method"), str):
        run.setdefault("method", layer.pop("method"))
    for top in ("domain", "method"):
        value = run.get(top)
        if value is not None and value != getattr(cfg, top):
            fix = f"pass --method {value}" if top == "method" else f"run `sslkit pretrain {value}`"
            raise ConfigError(
                f"{source}: {top} = {value!r}, but this run is {top} {getattr(cfg, top)!r}; "
                f"{fix} or remove the line"
            )
    unknown = [k for k in layer if k not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"{source}: unknown section [{unknown[0]}]; sections are: {', '.join(SECTIONS)}"
        )
    for name, values in layer.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of key = value")
        cfg = _set_section(
            cfg, name, from_mapping(type(cfg.section(name)), values, name, cfg.section(name))
        )
    return cfg


def _set_section(cfg: RunConfig, name: str, value: Any) -> RunConfig:
    attr = {"data": "data", "train": "train", "method": "model"}[name]
    return replace(cfg, **{attr: value})


def locate_key(cfg: RunConfig, key: str) -> tuple[str, str]:
    """``train.lr`` -> ("train", "lr"); a bare ``lr`` is looked up in every section."""
    if "." in key:
        section, _, name = key.partition(".")
        if section not in SECTIONS:
            raise ConfigError(f"unknown section in {key!r}; sections are: {', '.join(SECTIONS)}")
        valid = field_types(type(cfg.section(section)))
        if name not in valid:
            raise ConfigError(f"unknown key {key!r}; valid keys in [{section}]: {', '.join(valid)}")
        return section, name
    owners = [s for s in SECTIONS if key in field_types(type(cfg.section(s)))]
    if not owners:
        every = [f"{s}.{k}" for s in SECTIONS for k in field_types(type(cfg.section(s)))]
        raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(every)}")
    if len(owners) > 1:
        raise ConfigError(
            f"key {key!r} is in several sections; write one of: "
            + ", ".join(f"{s}.{key}" for s in owners)
        )
    return owners[0], key


def apply_overrides(cfg: RunConfig, overrides: list[str] | dict[str, Any]) -> RunConfig:
    """Apply ``key=value`` strings (``--set``) or a ``{key: value}`` mapping."""
    items = overrides.items() if isinstance(overrides, dict) else map(_split_override, overrides)
    for key, value in items:
        section, name = locate_key(cfg, key)
        cfg = apply_layer(cfg, {section: {name: value}}, f"--set {key}")
    return cfg


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected key=value, for example --set train.lr=0.001")
    return key.strip(), CommandLineText(value.strip())


def build_run_config(
    plugin: Any,
    method: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """Resolve a run's full configuration for ``plugin`` (a :class:`sslkit.core.plugin.Plugin`)."""
    spec = plugin.method(method)
    cfg = RunConfig(
        domain=plugin.name, method=spec.name, data=plugin.data_config(), model=spec.config()
    )
    if "default" in plugin.preset_names(spec.name):
        cfg = apply_layer(
            cfg,
            parse_toml(plugin.preset_text(spec.name, "default"), "preset default"),
            "preset default",
        )
    explicit = {"run.method"} if method else set()
    if preset:
        layer = parse_toml(plugin.preset_text(spec.name, preset), f"preset {preset}")
        cfg = apply_layer(cfg, layer, f"preset {preset}")
        explicit |= _layer_keys(layer)
    if config_file:
        layer = load_toml(config_file)
        cfg = apply_layer(cfg, layer, str(config_file))
        explicit |= _layer_keys(layer)
    if options:
        given = {k: v for k, v in options.items() if v is not None}
        cfg = apply_overrides(cfg, given)
        explicit |= {".".join(locate_key(cfg, k)) for k in given}
    if overrides:
        cfg = apply_overrides(cfg, overrides)
        explicit |= {".".join(locate_key(cfg, _split_override(o)[0])) for o in overrides}
    return replace(cfg, train=_epochs_win(cfg.train, explicit), explicit=frozenset(explicit))


def _epochs_win(train: TrainConfig, explicit: set[str]) -> TrainConfig:
    """An explicit ``train.epochs`` (``--epochs``, ``--set``, ``--config``, ``--preset``) without
    an explicit ``train.steps`` or ``train.min_steps`` means that many passes: the default
    preset's step budget is dropped, and its floor only warns (``train.warn_below_steps``).
    Not on ``--resume``, which keeps the run's saved budget (``--epochs`` extends its passes)."""
    if (
        train.resume
        or "train.epochs" not in explicit
        or explicit & {"train.steps", "train.min_steps"}
        or not (train.steps or train.min_steps)
    ):
        return train
    floor = max(train.steps, train.min_steps, train.warn_below_steps)
    return replace(train, steps=0, min_steps=0, warn_below_steps=floor)


def _layer_keys(layer: dict[str, Any]) -> set[str]:
    return {
        f"{section}.{key}"
        for section in SECTIONS
        if isinstance(layer.get(section), dict)
        for key in layer[section]
    }


def config_diff(a: RunConfig, b: RunConfig) -> dict[str, tuple[Any, Any]]:
    """``{"train.lr": (a's value, b's value)}`` for every key whose values differ."""
    da, db = a.to_dict(), b.to_dict()
    out: dict[str, tuple[Any, Any]] = {}
    for section in SECTIONS:
        for key in dict.fromkeys([*da[section], *db[section]]):
            if da[section].get(key) != db[section].get(key):
                out[f"{section}.{key}"] = (da[section].get(key), db[section].get(key))
    return out


def absolute_paths(cfg: RunConfig) -> RunConfig:
    """``train.out`` and the data paths (``data.path``, ``data.*_path``) that name an existing
    file or folder, made absolute: a saved run then works from any working directory."""
    data = cfg.data
    if is_dataclass(data):
        changed = {}
        for f in fields(data):
            value = getattr(data, f.name)
            if (f.name == "path" or f.name.endswith("_path")) and isinstance(value, str) and value:
                p = os.path.expanduser(value)
                if not os.path.isabs(p) and os.path.exists(p):
                    changed[f.name] = os.path.abspath(p)
        data = replace(data, **changed) if changed else data
    out = os.path.abspath(os.path.expanduser(cfg.train.out))
    return replace(cfg, data=data, train=replace(cfg.train, out=out))


def run_config_from_dict(plugin: Any, values: dict[str, Any], source: str) -> RunConfig:
    """Rebuild a saved run's config (``config.toml``) for ``plugin``."""
    spec = plugin.method(values.get("run", {}).get("method"))
    cfg = RunConfig(
        domain=plugin.name, method=spec.name, data=plugin.data_config(), model=spec.config()
    )
    return apply_layer(cfg, values, source)
