"""Help text for config options: the attribute docstrings written under dataclass fields.

Re-exported by :mod:`sslkit.core.config`; import from there.
"""

from __future__ import annotations

from dataclasses import is_dataclass


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
