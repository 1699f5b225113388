"""Encoder specs: how to build a module again from ``model_card.json`` alone.

A spec is ``{"build": "package.module:callable", "kwargs": {...}}`` with JSON-serialisable
``kwargs``: ``resolve(build)(**kwargs)`` makes a fresh module with exactly the keys and shapes
of the encoder's ``state_dict``, so the exported weights load into it (as a timm model or a
Hugging Face ``PyTorchModelHubMixin`` loads its weights into the class its config names).

:func:`records_init` lets an encoder class write its own spec: the arguments of every
instance's ``__init__`` are kept (:func:`recorded_spec` reads them back), so a method whose
``embedder()`` is such a module needs no ``encoder_spec()`` of its own.

Light: no torch import.
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any

_RECORD = "_sslkit_init_spec"


def records_init(cls: type) -> type:
    """Class decorator: every instance of exactly ``cls`` keeps its ``__init__`` arguments
    (bound by name, defaults filled in), which :func:`recorded_spec` turns into the spec
    ``{"build": "<module>:<class>", "kwargs": ...}``. A subclass records nothing unless it is
    decorated too (its own arguments rebuild it, not its parent's)."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            named = dict(bound.arguments)
            named.pop(next(iter(signature.parameters)))  # self
            for name, p in signature.parameters.items():
                if p.kind is inspect.Parameter.VAR_KEYWORD:
                    named.update(named.pop(name, {}))
                elif p.kind is inspect.Parameter.VAR_POSITIONAL and named.pop(name, ()):
                    named = {"error": f"{cls.__qualname__} was given *{name}"}
                    break
            self.__dict__[_RECORD] = (f"{cls.__module__}:{cls.__qualname__}", named)
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


def recorded_spec(module: Any) -> dict[str, Any] | None:
    """The spec of a module built by a :func:`records_init` class (None for any other);
    a :class:`TypeError` when its arguments are not JSON-serialisable."""
    record = getattr(module, "__dict__", {}).get(_RECORD)
    if record is None:
        return None
    build, kwargs = record
    return check_spec({"build": build, "kwargs": kwargs})


def check_spec(spec: Any) -> dict[str, Any]:
    """``spec`` as plain JSON (tuples become lists): a dict with a ``"module:callable"``
    ``build`` and a dict of JSON-serialisable ``kwargs``, else a :class:`TypeError`."""
    if not isinstance(spec, dict) or set(spec) != {"build", "kwargs"}:
        raise TypeError(f"an encoder spec is {{'build': ..., 'kwargs': ...}}, not {spec!r}")
    build, kwargs = spec["build"], spec["kwargs"]
    if not isinstance(build, str) or ":" not in build:
        raise TypeError(f"encoder spec build {build!r} is not a 'package.module:callable' name")
    if not isinstance(kwargs, dict):
        raise TypeError(f"encoder spec kwargs of {build} is not a dict: {kwargs!r}")
    if "error" in kwargs and len(kwargs) == 1:
        raise TypeError(f"encoder spec of {build}: {kwargs['error']}")
    try:
        plain = json.loads(json.dumps(kwargs, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"encoder spec kwargs of {build} are not JSON-serialisable: {exc}"
        ) from None
    return {"build": build, "kwargs": plain}
