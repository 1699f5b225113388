"""Coercion of config values (``key=value`` text from the command line, or TOML values) to a
dataclass field's declared type. Re-exported by :mod:`sslkit.core.config`; import from there.
"""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import fields, is_dataclass, replace
from typing import Any, Literal

from sslkit.core.config_help import field_order
from sslkit.core.errors import ConfigError


def field_types(cls: type) -> dict[str, Any]:
    """The options of config dataclass ``cls`` and their types, in ``--help`` order
    (:func:`~sslkit.core.config_help.field_order`). A ``ClassVar`` (which also takes an
    inherited field out of a subclass) or an ``init=False`` field is no option."""
    hints = typing.get_type_hints(cls)
    options = {f.name for f in fields(cls) if f.init}
    return {name: hints[name] for name in field_order(cls) if name in options}


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
