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
A key is ``section.field`` or a bare field name that only one section has.

No torch here: the CLI builds its options from these dataclasses before importing anything heavy.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sslkit.core.errors import ConfigError

SECTIONS = ("data", "train", "method")


@dataclass
class TrainConfig:
    """Options of the training engine (``[train]``), the same for every domain."""

    epochs: int = 10
    max_steps: int = 0
    """Stop after this many optimizer steps (0: run all epochs)."""
    batch_size: int = 256
    """Per-device batch size; the global batch is this x devices x accumulate."""
    lr: float = 1e-3
    """Learning rate for a global batch of ``base_batch_size``; scaled by ``lr_scaling``."""
    base_batch_size: int = 256
    lr_scaling: Literal["linear", "sqrt", "none"] = "none"
    optimizer: Literal["adamw", "lars", "sgd"] = "adamw"
    weight_decay: float = 0.05
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    grad_clip: float = 0.0
    accumulate: int = 1
    device: str = "auto"
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """auto: bf16 autocast on CUDA, fp32 elsewhere."""
    compile: bool = False
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    """Write a checkpoint every N optimizer steps (0: at the end of each epoch only)."""
    monitor_every: int = 0
    """Compute RankMe and embedding std on a held batch every N steps (0: off)."""
    sync_batchnorm: bool = False
    """Convert BatchNorm layers to SyncBatchNorm under torchrun (statistics over the global batch)."""
    quiet: bool = False
    out: str = "runs"
    name: str = ""
    """Run folder name under ``out`` (default: ``<domain>-<method>``)."""
    resume: bool = False
    progress: bool = True
    """Rich progress bar on rank 0 (only on a terminal; off with quiet)."""
    tensorboard: bool = True
    """Also write TensorBoard event files to <run>/tensorboard when tensorboard is installed."""
    keep_checkpoints: int = 2
    """How many of the latest checkpoints to keep (at least 1)."""
    checkpoint_minutes: float = 0.0
    """Also write a checkpoint when this many minutes have passed since the last one (0: off)."""
    monitor_batch: int = 512
    """Rows of the held batch the collapse monitor embeds."""
    find_unused_parameters: bool = False
    """DDP option for methods whose training_step leaves some trainable parameters unused."""

    def __post_init__(self) -> None:
        for name, (low, high, strict_low) in _TRAIN_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue  # a wrong type is coerce's error, not a range error
            if value < low or (strict_low and value == low) or (high is not None and value > high):
                raise ConfigError(
                    f"train.{name} = {value!r} is out of range: it must be {_describe(low, high, strict_low)}"
                )


# (lowest, highest or None, lowest excluded) of TrainConfig's numeric fields
_TRAIN_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "epochs": (1, None, False),
    "max_steps": (0, None, False),
    "batch_size": (1, None, False),
    "lr": (0, None, True),
    "base_batch_size": (1, None, False),
    "weight_decay": (0, None, False),
    "warmup_epochs": (0, None, False),
    "min_lr_ratio": (0, 1, False),
    "grad_clip": (0, None, False),
    "accumulate": (1, None, False),
    "num_workers": (0, None, False),
    "log_every": (0, None, False),
    "checkpoint_every": (0, None, False),
    "monitor_every": (0, None, False),
    "keep_checkpoints": (1, None, False),
    "checkpoint_minutes": (0, None, False),
    "monitor_batch": (1, None, False),
}


def _describe(low: float, high: float | None, strict_low: bool) -> str:
    if high is not None:
        return f"between {low} and {high}"
    return f"greater than {low}" if strict_low else f"at least {low}"


@dataclass
class RunConfig:
    domain: str
    method: str
    data: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Any = None
    """The method's config dataclass (the ``[method]`` section)."""
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """Keys (``train.lr``; ``run.method``) that --preset, --config, named options or --set gave a
    value, as opposed to defaults; ``--resume`` checks these against the run's saved config."""

    def section(self, name: str) -> Any:
        return {"data": self.data, "train": self.train, "method": self.model}[name]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"run": {"domain": self.domain, "method": self.method}}
        for name in SECTIONS:
            out[name] = _to_plain(dataclasses.asdict(self.section(name)))
        return out

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self.to_dict()))


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# coercion of values to a field's declared type


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if f.init}


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under fields (attribute docstrings), for ``--help``; fields inherited
    from a base dataclass keep the base's text unless the subclass documents them again."""
    import ast

    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if is_dataclass(k)]):
        try:
            tree = ast.parse(_dedented_source(klass))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for prev, node in zip(body, body[1:]):
            if (
                isinstance(prev, ast.AnnAssign)
                and isinstance(prev.target, ast.Name)
                and isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                docs[prev.target.id] = " ".join(node.value.value.split())
    return docs


def _dedented_source(klass: type) -> str:
    import inspect
    import textwrap

    return textwrap.dedent(inspect.getsource(klass))


class CommandLineText(str):
    """A value typed on the command line (``--set key=value``): quotes in it are TOML's, so
    ``"a,b[1]"`` is the string ``a,b[1]`` (a config file's strings are taken as they are)."""


def _unquote(text: str) -> str:
    """``"x"`` or ``'x'`` (a TOML string) -> ``x``; anything else unchanged."""
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        try:
            value = tomllib.loads(f"v = {s}")["v"]
        except tomllib.TOMLDecodeError:
            return text
        if isinstance(value, str):
            return value
    return text


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (a string from the command line, or a TOML value) to type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: cannot read {value!r}")
    if origin is Literal:
        for choice in args:
            try:
                cand = coerce(value, type(choice), key)
            except ConfigError:
                continue
            if cand == choice:
                return choice
        raise ConfigError(
            f"{key} = {value!r} is not allowed; choose one of: {', '.join(map(str, args))}"
        )
    if origin in (tuple, list):
        items = _parse_list(value, key) if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{key} = {value!r}: expected a list (comma-separated)")
        inner = args[0] if args else str
        result = [coerce(v, inner, key) for v in items]
        return tuple(result) if origin is tuple else result
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} = {value!r}: expected true or false")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: expected an integer")
        if isinstance(value, int):
            return value
        try:
            as_float = float(str(value))
        except ValueError:
            raise ConfigError(f"{key} = {value!r}: expected an integer") from None
        if not as_float.is_integer():
            raise ConfigError(f"{key} = {value!r}: expected an integer")
        return int(as_float)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: expected a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} = {value!r}: expected a number") from None
    if tp is str:
        return _unquote(value) if isinstance(value, CommandLineText) else str(value)
    if tp is Any:
        return value
    if is_dataclass(tp) and isinstance(value, dict):
        return from_mapping(tp, value, key)
    if isinstance(value, tp):
        return value
    raise ConfigError(f"{key} = {value!r}: expected {getattr(tp, '__name__', tp)}")


def _parse_list(text: str, key: str) -> list[Any]:
    """A list from the command line: TOML (``[512, 256]``, ``["a(b)", "c"]``) or plain
    comma-separated items (``512,256``, ``[a, b]``, ``(a, b)``)."""
    s = text.strip()
    if s.startswith("[") or s[:1] in "\"'":
        literal = s if s.startswith("[") else f"[{s}]"
        try:
            return tomllib.loads(f"v = {literal}")["v"]
        except tomllib.TOMLDecodeError:
            inner = s[1:-1] if s.startswith("[") and s.endswith("]") else None
            if inner is None or any(c in inner for c in "[]\"'"):
                raise ConfigError(
                    f"{key} = {text!r} is not a valid list; write it as [1, 2], "
                    '["a", "b"] (TOML) or a,b'
                ) from None
            s = inner  # [a, b]: unquoted words, read as comma-separated items
    elif s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
    return [v.strip() for v in s.split(",") if v.strip()]


def from_mapping(cls: type, values: dict[str, Any], where: str, base: Any = None) -> Any:
    """Build (or update ``base`` of) dataclass ``cls`` from a mapping, checking every key."""
    types_ = field_types(cls)
    unknown = [k for k in values if k not in types_]
    if unknown:
        raise ConfigError(
            f"unknown key {where}.{unknown[0]}; valid keys in [{where}]: {', '.join(types_)}"
        )
    converted = {k: coerce(v, types_[k], f"{where}.{k}") for k, v in values.items()}
    if base is not None:
        return replace(base, **converted)
    return cls(**converted)


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
    return replace(cfg, explicit=frozenset(explicit))


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
