"""Help text for config options: the attribute docstrings written under dataclass fields, and
the order ``--help`` lists the options in.

Re-exported by :mod:`sslkit.core.config`; import from there.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass


def field_order(cls: type) -> list[str]:
    """The fields of dataclass ``cls`` in the order ``--help`` lists them: the dataclass order
    (a base's fields first, then each subclass's new ones), except that a field a subclass
    declares again *below one of its new fields* is listed there, after the field above it.

    A config can so inherit a base's options and still show one of them among its own: TriCL's
    config, built on the graphs ``EncoderOptions`` (``encoder``, ``hidden_dim``,
    ``num_layers``), declares ``num_layers`` again under its new ``proj_dim``, and ``--help``
    lists ``encoder, hidden_dim, proj_dim, num_layers``. A field declared again at the top of
    a subclass (only to change its default or type) keeps the base's place.

    Fields a class names in ``__help_last__`` (a tuple of field names, no annotation) come
    after all others, wherever they or a subclass declare them: core's
    :class:`~sslkit.core.method_config.MethodOptions`, the base of every ``[method]`` config
    (often a base's base, under a plugin's encoder options), so lists its options after the
    method's own.
    """
    classes = [k for k in cls.__mro__ if is_dataclass(k)]
    last = [n for k in reversed(classes) for n in vars(k).get("__help_last__", ())]
    order: list[str] = []
    for klass in reversed(classes):
        new_seen, above = False, ""
        for name in vars(klass).get("__annotations__", {}):
            if name not in order:
                order.append(name)
                new_seen = True
            elif new_seen:
                order.remove(name)
                order.insert(order.index(above) + 1, name)
            above = name
    order = [n for n in order if n not in last] + [n for n in order if n in last]
    names = {f.name for f in fields(cls)}  # ClassVar and InitVar annotations are not fields
    return [n for n in order if n in names]


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
