"""The plugin contract and its discovery.

A domain plugin is one :class:`Plugin` object registered under the entry-point group
``sslkit.plugins``::

    [project.entry-points."sslkit.plugins"]
    tabular = "sslkit.tabular.plugin:plugin"

The plugin module must stay light: it may import config dataclasses, but no torch and no heavy
library at import time. Everything heavy is named as a ``"module:attribute"`` reference and
imported only when called (:func:`resolve`).

This module never imports torch: ``sslkit --help`` and ``sslkit plugins`` rely on that.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Generic, TypeVar

from sslkit.core.errors import UsageError

API_VERSION = 1
ENTRY_POINT_GROUP = "sslkit.plugins"
PLUGINS_ENV = "SSLKIT_PLUGINS"

Ref = str | Callable[..., Any]
"""A factory: a callable, or ``"package.module:attribute"`` imported on first use."""


def resolve(ref: Ref) -> Any:
    """Import a ``"module:attr"`` reference (or return a callable unchanged)."""
    if callable(ref):
        return ref
    module_name, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class MethodSpec:
    """One SSL method of a domain.

    ``config`` is a dataclass whose fields are the method's hyperparameters (each with a
    default); the CLI turns them into options. ``build(config, data)`` returns a
    :class:`sslkit.core.engine.Method` for the loaded :class:`sslkit.core.data.DomainData`.
    Presets are TOML files ``<presets package>/<method>/<preset>.toml``.
    """

    name: str
    config: type
    build: Ref
    summary: str = ""
    paper: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """A named data set a domain can load without a path (the embedded sample, for one).

    ``load(data_config)`` is not needed here: the plugin's ``load_data`` receives the name in
    ``data_config.path`` and resolves it. The spec documents it for ``sslkit datasets``.
    """

    name: str
    summary: str = ""
    source: str = ""
    license: str = ""
    rows: str = ""


@dataclass(frozen=True)
class Baseline:
    """What the field gets without pretraining: features computed from the raw input.

    ``features(ctx, split)`` returns :class:`sslkit.core.evaluate.Embeddings` whose rows are
    the rows of ``ctx.embeddings(split)`` in the same order (same ids, same labels). Core scores
    them with the task's probe and, with ``boosting``, with gradient boosting too (the usual
    baseline on raw columns and aggregates)."""

    name: str
    """How the report names it: "the raw columns", "the hand-crafted aggregates", ..."""
    features: Ref
    boosting: bool = False


@dataclass(frozen=True)
class TaskSpec:
    """A downstream evaluation run on frozen embeddings.

    ``run(ctx: sslkit.core.evaluate.TaskContext) -> dict`` returns metrics (JSON-serialisable;
    floats for numbers). ``needs_labels`` tasks are skipped with one line when the data has
    none.

    The plugin's default task also answers "did pretraining pay?" (``sslkit.core.evaluate.
    payoff``): ``probe`` names the task's logistic-probe protocol (a ``"module:CONSTANT"``
    :class:`sslkit.core.evaluate.logistic.ProbeProtocol`; core's default when empty) and
    ``baseline`` the no-pretraining features it is compared with.

    ``on_request`` tasks (a paper's protocol that trains heads for minutes) run only when named
    (``sslkit evaluate --task NAME``, or ``--task all``), so that the default evaluation stays
    as quick as the pretraining; the report lists them as available.
    """

    name: str
    run: Ref
    summary: str = ""
    needs_labels: bool = True
    probe: Ref | None = None
    baseline: Baseline | None = None
    on_request: bool = False


T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """An ordered, read-only name -> spec mapping whose unknown-key error lists what exists."""

    def __init__(self, kind: str, items: list[T] | tuple[T, ...] = ()):
        self.kind = kind
        self._items: dict[str, T] = {}
        for item in items:
            name = item.name  # type: ignore[attr-defined]
            if name in self._items:
                raise ValueError(f"duplicate {kind} {name!r}")
            self._items[name] = item

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self._items) or '(none)'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str, default: T | None = None) -> T | None:  # type: ignore[override]
        return self._items.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind}: {', '.join(self._items)})"


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution`` (a plugin's ``version``), from its metadata:
    one number, the one its wheel was built with; ``0+unknown`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class Plugin:
    """What a domain plugin registers under the ``sslkit.plugins`` entry-point group.

    - ``data_config``: the domain's data options dataclass; it must have a ``path: str`` field
      (a file, a folder or a registered data set name; ``""`` means the embedded sample).
    - ``load_data(data_config, state=None) -> DomainData``: ``state`` is the fitted
      preprocessing saved with a run (JSON); when given, reuse it instead of fitting.
    - ``presets``: the package holding ``<method>/<preset>.toml`` files.
    - ``from_memory``: optional ``from_memory(obj, data_config, state=None) -> DomainData`` for
      data already in memory (a DataFrame, a graph): ``api.pretrain(domain, data=obj)``,
      ``api.evaluate(run, data=obj)`` and ``api.export(run, data=obj)`` load through it instead of
      ``load_data`` (:mod:`sslkit.core.memory`); ``data_config.path`` then describes ``obj``.
      Without it, in-memory data is a :class:`UsageError` naming the domain.
    """

    name: str
    version: str
    summary: str
    data_config: type
    load_data: Ref
    methods: Registry[MethodSpec]
    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("data set"))
    tasks: Registry[TaskSpec] = field(default_factory=lambda: Registry("task"))
    default_method: str = ""
    default_task: str = ""
    presets: str = ""
    from_memory: Ref | None = None
    api_version: int = API_VERSION

    def __post_init__(self) -> None:
        if self.default_method and self.default_method not in self.methods:
            raise ValueError(f"default_method {self.default_method!r} is not a method")
        if self.default_task and self.default_task not in self.tasks:
            raise ValueError(f"default_task {self.default_task!r} is not a task")

    def method(self, name: str | None) -> MethodSpec:
        return self.methods[name or self.default_method or next(iter(self.methods))]

    def preset_names(self, method: str) -> list[str]:
        folder = self._preset_folder(method)
        if folder is None:
            return []
        return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))

    def preset_text(self, method: str, preset: str) -> str:
        names = self.preset_names(method)
        if preset not in names:
            raise UsageError(
                f"unknown preset {preset!r} for {self.name}/{method}; "
                f"available: {', '.join(names) or '(none)'}"
            )
        folder = self._preset_folder(method)
        assert folder is not None
        return folder.joinpath(f"{preset}.toml").read_text(encoding="utf-8")

    def _preset_folder(self, method: str):
        if not self.presets:
            return None
        folder = resources.files(self.presets).joinpath(method)
        return folder if folder.is_dir() else None


# ---------------------------------------------------------------------------------------------
# discovery


@dataclass
class PluginEntry:
    """An installed plugin as its entry point describes it; ``load()`` imports it once."""

    name: str
    value: str
    distribution: str
    version: str
    _plugin: Plugin | None = None
    error: str | None = None

    def load(self) -> Plugin | None:
        if self._plugin is None and self.error is None:
            try:
                obj = resolve(self.value)
                if not isinstance(obj, Plugin):
                    raise TypeError(f"{self.value} is a {type(obj).__name__}, not an sslkit Plugin")
                if obj.api_version != API_VERSION:
                    raise TypeError(
                        f"plugin API version {obj.api_version}, this sslkit-core speaks "
                        f"{API_VERSION}; upgrade {self.distribution} or sslkit-core"
                    )
                self._plugin = obj
            except Exception as exc:  # any import failure marks only this plugin broken
                self.error = f"{type(exc).__name__}: {exc}"
        return self._plugin


_extra: dict[str, PluginEntry] = {}
_cache: dict[str, PluginEntry] | None = None


def _allowlist() -> set[str] | None:
    """The domains ``SSLKIT_PLUGINS`` (comma-separated) allows; None when it is unset or
    empty (``SSLKIT_PLUGINS=`` does not hide every plugin)."""
    raw = os.environ.get(PLUGINS_ENV)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def entries() -> dict[str, PluginEntry]:
    """Installed plugins by name, from entry-point metadata only (nothing imported)."""
    global _cache
    if _cache is None:
        found: dict[str, PluginEntry] = {}
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            found[ep.name] = PluginEntry(
                name=ep.name,
                value=ep.value,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
            )
        _cache = found
    allowed = _allowlist()
    merged = {**_cache, **_extra}
    if allowed is not None:
        merged = {k: v for k, v in merged.items() if k in allowed}
    return dict(sorted(merged.items()))


def limit_note() -> str:
    """What ``SSLKIT_PLUGINS`` hides, for any message listing plugins: ``""`` when it is unset
    or empty, else ``"limited by SSLKIT_PLUGINS=a,b; hidden: c (unset SSLKIT_PLUGINS ...)"``."""
    allowed = _allowlist()
    if allowed is None:
        return ""
    entries()  # fills the cache of installed plugins
    hidden = sorted((set(_cache or {}) | set(_extra)) - allowed)
    return (
        f"limited by {PLUGINS_ENV}={','.join(sorted(allowed)) or os.environ[PLUGINS_ENV]}"
        + (f"; hidden: {', '.join(hidden)}" if hidden else "")
        + f" (unset {PLUGINS_ENV} to use every installed plugin)"
    )


def get_plugin(name: str) -> Plugin:
    """The loaded plugin ``name``, or a :class:`UsageError` naming what is installed."""
    found = entries()
    if name not in found:
        raise unknown_domain(name, found)
    entry = found[name]
    plugin = entry.load()
    if plugin is None:
        raise UsageError(f"plugin {name!r} is installed but broken: {entry.error}")
    return plugin


def unknown_domain(name: str, found: Mapping[str, Any] | None = None) -> UsageError:
    """The error for a domain that is not installed (or hidden by ``SSLKIT_PLUGINS``)."""
    found = entries() if found is None else found
    note = limit_note()
    return UsageError(
        f"unknown domain {name!r}; installed: {', '.join(found) or '(none)'}"
        + (f"; {note}" if note else "")
    )


def register(plugin: Plugin) -> None:
    """Register a plugin in-process (tests, notebooks); it shadows an installed one."""
    _extra[plugin.name] = PluginEntry(
        name=plugin.name,
        value="<in-process>",
        distribution="<in-process>",
        version=plugin.version,
        _plugin=plugin,
    )


def unregister(name: str) -> None:
    _extra.pop(name, None)
