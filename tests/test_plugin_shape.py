"""Every plugin under plugins/ has the one shape of docs/plugin-contract.md ("The shape of a
plugin"), so that a reader of one plugin finds their way in the others, and a plugin that
strays from it fails here:

    src/sslkit/<domain>/
        plugin.py      the Plugin object (light: no torch)
        configs.py     config dataclasses, with the EncoderOptions base of every method's config
        data/          the package that reads data into a DomainData (no data.py module)
        encoders.py    build_encoder and EncoderOptions
        augment.py     augmentations (views)
        methods/       base.py (what the methods share: no common.py) and one module a method
        tasks.py       evaluation tasks
        presets/       <method>/<preset>.toml
        datasets/      the sample data shipped in the wheel (no assets/)

The source is read as text (ast), nothing heavy is imported: plugin.py and configs.py only.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
MODULES = ("plugin.py", "configs.py", "encoders.py", "augment.py", "tasks.py", "methods/base.py")
PACKAGES = ("data", "methods", "presets", "datasets")
STRAYS = ("assets", "data.py", "methods/common.py")


def _package(plugin: Path) -> Path:
    found = [p for p in (plugin / "src" / "sslkit").iterdir() if (p / "plugin.py").is_file()]
    assert len(found) == 1, f"{plugin.name}: one src/sslkit/<domain>/plugin.py, found {found}"
    return found[0]


def _top_level_names(path: Path) -> set[str]:
    """Names a module binds at its top level: def, class, import, assignment."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_there_are_plugins():
    assert {p.name for p in PLUGINS} >= {"tabular", "graphs", "events"}


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugin_has_the_shape(plugin):
    pkg = _package(plugin)
    where = pkg.relative_to(ROOT)
    missing = [m for m in MODULES if not (pkg / m).is_file()]
    missing += [f"{p}/" for p in PACKAGES if not (pkg / p / "__init__.py").is_file()]
    assert not missing, f"{where}: missing {missing} (docs/plugin-contract.md: the shape)"
    strays = [s for s in STRAYS if (pkg / s).exists()]
    assert not strays, (
        f"{where}: {strays} has no place in a plugin: sample data in datasets/, the data reader "
        "a data/ package, what methods share in methods/base.py"
    )
    shipped = [p for p in (pkg / "datasets").rglob("*") if p.is_file() and p.suffix != ".py"]
    assert shipped, f"{where}/datasets/ ships no sample data"
    presets = list((pkg / "presets").glob("*/*.toml"))
    assert presets, f"{where}/presets/ holds no <method>/<preset>.toml"


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_encoders_define_build_encoder_and_encoder_options(plugin):
    pkg = _package(plugin)
    names = _top_level_names(pkg / "encoders.py")
    missing = {"build_encoder", "EncoderOptions"} - names
    assert not missing, f"{pkg.relative_to(ROOT)}/encoders.py: no {sorted(missing)}"
    tree = ast.parse((pkg / "encoders.py").read_text())
    build = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_encoder"]
    assert build, "build_encoder is a function of encoders.py"
    assert ast.get_docstring(build[0]), "build_encoder says what it builds"


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_every_method_config_is_built_on_encoder_options(plugin):
    """configs.py holds the EncoderOptions dataclass (no torch: the CLI reads it), and every
    method's config registered by the plugin extends it."""
    domain = _package(plugin).name
    configs = importlib.import_module(f"sslkit.{domain}.configs")
    base = configs.EncoderOptions
    assert dataclasses.is_dataclass(base), f"sslkit.{domain}.configs.EncoderOptions"
    plugin_obj = importlib.import_module(f"sslkit.{domain}.plugin").plugin
    strays = [n for n in plugin_obj.methods if not issubclass(plugin_obj.method(n).config, base)]
    assert not strays, f"{domain}: configs of {strays} do not extend EncoderOptions"
