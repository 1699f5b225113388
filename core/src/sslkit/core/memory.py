"""Data given in memory: ``api.pretrain(domain, data=obj)``, ``api.evaluate(run, data=obj)``.

The one answer for data that is already loaded (a pandas DataFrame for tabular and events, a
torch_geometric ``Data`` for graphs): the plugin's optional ``from_memory(obj, data_config,
state=None)`` hook builds the :class:`~sslkit.core.data.DomainData` instead of ``load_data``.
A run trained so saves ``data.path = "<in-memory DataFrame 1000x12>"``: the data itself is not
in the run, so ``evaluate`` and ``export`` of that run ask for it again (``--data FILE``, or
``data=obj`` in Python), with :func:`missing_data_error`.

No torch or pandas import here.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from sslkit.core.errors import UsageError

PREFIX = "<in-memory "


def is_memory_object(data: Any) -> bool:
    """True for an in-memory data object; False for ``None`` and a path (``str``, PathLike)."""
    return data is not None and not isinstance(data, str | os.PathLike)


def is_memory_path(path: Any) -> bool:
    """True for the ``data.path`` a run trained on in-memory data saves (:func:`describe`)."""
    return isinstance(path, str) and path.startswith(PREFIX) and path.endswith(">")


def describe(obj: Any) -> str:
    """``<in-memory DataFrame 1000x12>``, ``<in-memory Data 2708 nodes, 10556 edges>``,
    ``<in-memory list of 5>``: what a run's config records in ``data.path``."""
    kind = type(obj).__name__
    size = ""
    try:
        shape = getattr(obj, "shape", None)
        if isinstance(shape, tuple) and shape:
            size = "x".join(str(int(s)) for s in shape)
        elif getattr(obj, "num_nodes", None) is not None:
            size = f"{int(obj.num_nodes)} nodes"
            edges = getattr(obj, "num_edges", None)
            if edges is not None:
                size += f", {int(edges)} edges"
        elif hasattr(obj, "__len__"):
            size = f"of {len(obj)}"
    except Exception:  # a description must never fail; the type name is enough then
        size = ""
    return f"{PREFIX}{kind}{' ' + size if size else ''}>"


def load_memory(plugin: Any, obj: Any, data_config: Any, state: dict[str, Any] | None = None):
    """``plugin.from_memory(obj, data_config, state=state)``, with ``data_config.path`` set to
    :func:`describe` of ``obj``; a :class:`UsageError` naming the domain when the plugin has no
    such hook."""
    from sslkit.core.plugin import resolve

    hook = getattr(plugin, "from_memory", None)
    if hook is None:
        raise UsageError(
            f"domain {plugin.name!r} takes no in-memory data (its plugin has no from_memory "
            f"hook); give a file instead: data.path=FILE (--data FILE)"
        )
    cfg = replace(data_config, path=describe(obj)) if hasattr(data_config, "path") else data_config
    return resolve(hook)(obj, cfg, state=state)


def missing_data_error(what: str, path: str, *, resume: bool = False) -> UsageError:
    """The error for in-memory data asked for and not given: ``what`` (``the run X``) was
    trained on ``path`` (:func:`describe`); the data itself is not saved with a run.
    ``resume``: the run is being resumed (only the same data, in memory, continues it)."""
    if resume:
        how = (
            "resume it from Python with the same data: api.pretrain(..., data=<the same "
            "object>, overrides=[..., 'train.resume=true'])"
        )
    else:
        how = (
            "pass the data again: --data FILE on the command line, or data=<a DataFrame, a "
            "graph or a file path> in Python"
        )
    return UsageError(
        f"{what} was trained on data given in memory ({path}), which a run does not keep; {how}"
    )
