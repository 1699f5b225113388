"""What core owns of every method's config: :class:`MethodOptions`, the base every ``[method]``
dataclass inherits, and :func:`build_method`, which builds a method and applies those options.

Matryoshka (Kusupati et al. 2022) is the one such option today: ``method.matryoshka_dims``
trains nested prefixes of the embedding with the method's own objective. Core validates the
sizes (:func:`check_nested`) and hands them to the method after it is built
(:meth:`sslkit.core.engine.method.Method.set_nested`); the method routes its embedding-level
loss through :meth:`~sslkit.core.engine.method.Method.nested`. A method that does not
(``Method.matryoshka`` is not True) is refused with one line naming the key.

No torch here: plugins' config modules import :class:`MethodOptions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sslkit.core.errors import UsageError

NESTED_KEY = "method.matryoshka_dims"


@dataclass
class MethodOptions:
    """Options core applies to the method of any plugin (every ``[method]`` dataclass inherits
    this class). ``--help`` lists them after the method's own options (``__help_last__``, read
    by :func:`sslkit.core.config_help.field_order`)."""

    __help_last__ = ("matryoshka_dims",)

    matryoshka_dims: tuple[int, ...] = ()
    """Also train nested prefixes of the embedding (Matryoshka): each size m trains the first m
    coordinates with the method's objective (heads reading the embedding get one copy per
    size), the losses averaged; the full width is always trained, and export keeps the first m
    coordinates (``--dim m``). Empty: off. Methods whose embedding is made of tokens say
    what a size counts (T-JEPA: coordinates of each token)."""


def check_nested(dims: Sequence[int], full: int, key: str = NESTED_KEY) -> tuple[int, ...]:
    """The Matryoshka sizes to train: ``dims`` sorted, without repeats, each in ``[1, full]``,
    with ``full`` added (the full width is always trained); ``()`` for no sizes. Anything else
    is a :class:`~sslkit.core.errors.UsageError` naming ``key``."""
    dims = tuple(dims or ())
    if not dims:
        return ()
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= full]
    if bad:
        raise UsageError(
            f"{key} = {list(dims)}: each size must be a whole number between 1 and {full} "
            f"(the width of this method's embedding); {bad[0]!r} is not"
        )
    return tuple(sorted(set(dims) | {int(full)}))


def apply_nested(method: Any, dims: Sequence[int], name: str = "", key: str = NESTED_KEY) -> Any:
    """Train ``method`` at the Matryoshka sizes ``dims`` (a no-op when empty): refused unless
    the method routes its loss through ``Method.nested`` (``method.matryoshka is True``; a
    string there says why Matryoshka makes no sense for it), checked against
    ``method.nested_width()``, then given to ``method.set_nested``."""
    dims = tuple(dims or ())
    if not dims:
        return method
    support = getattr(method, "matryoshka", False)
    if support is not True:
        why = (
            support
            if isinstance(support, str) and support
            else "its loss does not go through Method.nested"
        )
        label = f"method {name!r}" if name else type(method).__name__
        raise UsageError(
            f"{key} = {list(dims)}: {label} cannot train Matryoshka sizes ({why}); remove {key}"
        )
    method.set_nested(check_nested(dims, int(method.nested_width()), key))
    return method


def build_method(plugin: Any, method: str, cfg: Any, data: Any) -> Any:
    """The plugin's method ``method`` built from its config ``cfg`` for ``data``, with the
    options of :class:`MethodOptions` applied (what pretraining, loading a run and export do)."""
    from sslkit.core.plugin import resolve

    spec = plugin.method(method)
    built = resolve(spec.build)(cfg, data)
    return apply_nested(built, getattr(cfg, "matryoshka_dims", ()), spec.name)
