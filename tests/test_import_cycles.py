"""No import cycles between the modules of sslkit (core, cli and every plugin).

The graph is built statically (``ast``) from the ``import`` and ``from ... import`` statements
of every module under ``core/src/sslkit``, ``cli/src/sslkit`` and ``plugins/*/src/sslkit``.
``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; imports
under ``if TYPE_CHECKING:`` never count.

- :func:`test_no_import_cycles`: module-level imports only (those run on import; a cycle there
  can fail with a partially initialised module).
- :func:`test_no_cycles_through_deferred_imports`: imports inside functions count too (a cycle
  hidden in a deferred import is still two modules that need each other: layering).

Run it as a script to print the cycles of both graphs:
``uv run python tests/test_import_cycles.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "core" / "src", ROOT / "cli" / "src", *sorted(ROOT.glob("plugins/*/src"))]


def find_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the source roots' ``sslkit``."""
    modules: dict[str, Path] = {}
    for src in SOURCES:
        for path in sorted((src / "sslkit").rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], deferred: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is imported (including inside module-level
    ``if`` / ``try`` / ``with`` blocks, except ``if TYPE_CHECKING:``); with ``deferred`` also
    those inside functions and classes."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _imports(node.body, deferred)
            found += _imports(node.orelse, deferred)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found += _imports(block, deferred)
            for handler in node.handlers:
                found += _imports(handler.body, deferred)
        elif isinstance(node, ast.With) or (
            deferred and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ):
            found += _imports(node.body, deferred)
        elif deferred and isinstance(node, ast.For | ast.AsyncFor | ast.While):
            found += _imports(node.body, deferred) + _imports(node.orelse, deferred)
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path], deferred: bool = False) -> set[str]:
    """The sslkit modules that ``name`` imports at module level (or anywhere: ``deferred``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(tree.body, deferred):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
            continue
        base = node.module or ""
        if node.level:
            parent = package.split(".")
            parent = parent[: len(parent) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            targets.add(sub if sub in modules else base)
    found = set()
    for target in targets:
        # `import a.b.c` names a.b.c; keep the longest prefix that is one of our modules
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    modules = find_modules()
    return {name: imports_of(name, path, modules, deferred) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan), each
    written as a path ``a -> b -> ... -> a`` through the component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return [_cycle_in(graph, set(comp), comp[0]) for comp in components]


def _cycle_in(graph: dict[str, set[str]], comp: set[str], start: str) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is not on a cycle")


def test_the_graph_covers_every_member() -> None:
    graph = import_graph()
    for module in ("sslkit.core.api", "sslkit.cli.main", "sslkit.events.plugin"):
        assert module in graph
    assert "sslkit.core.errors" in graph["sslkit.core.config"]


def test_the_checker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def _message(kind: str, cycles: list[list[str]]) -> str:
    return f"import cycles ({kind}):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, _message("module-level imports", cycles)


def test_no_cycles_through_deferred_imports() -> None:
    cycles = find_cycles(import_graph(deferred=True))
    assert not cycles, _message("module-level and function-level imports", cycles)


if __name__ == "__main__":
    failed = False
    for deferred in (False, True):
        found = find_cycles(import_graph(deferred))
        kind = "with imports inside functions" if deferred else "module-level imports"
        print(f"{len(found)} cycle(s), {kind}")
        for cycle in found:
            print("  " + " -> ".join(cycle))
        failed |= bool(found)
    sys.exit(1 if failed else 0)
