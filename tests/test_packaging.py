"""Packaging rules of the workspace (issue 15).

- no file of the repository names a package index: no host, no simple-index URL, no index option
  (the resolution must work from whatever index a machine is configured with);
- uv.lock is never committed (it records download addresses);
- ``[tool.uv] constraint-dependencies`` holds exact pins only, ``name==version`` (with a marker
  where the resolution forks by Python version), and covers every member's direct dependencies;
- every dependency of every member has a lower bound, and the pins satisfy it.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS = sorted(
    {
        p.parent
        for g in WORKSPACE["tool"]["uv"]["workspace"]["members"]
        for p in ROOT.glob(f"{g}/pyproject.toml")
    }
)
PROJECTS = {m: tomllib.loads((m / "pyproject.toml").read_text())["project"] for m in MEMBERS}
MEMBER_NAMES = {canonicalize_name(p["name"]) for p in PROJECTS.values()}
PINS = WORKSPACE["tool"]["uv"].get("constraint-dependencies", [])
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!_-]*)(?:\s*;\s*(\S.*))?$")
# written in pieces so that this file does not match itself
INDEX = re.compile(
    "|".join(
        [
            re.escape("pypi" + ".org"),
            re.escape("files." + "pythonhosted"),
            re.escape("download." + "pytorch.org"),
            "https?" + r"://[^\s\"'<>]*/" + "simple",
            "index" + "[-_]url",
            re.escape("tool.uv" + ".index"),
        ]
    ),
    re.IGNORECASE,
)


def _git(*args: str) -> list[str]:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [p for p in out.split("\0" if "-z" in args else "\n") if p]


def _requirements() -> list[tuple[str, Requirement]]:
    """(where, requirement) for every third-party dependency of every member and of the root's
    dependency groups."""
    found = []
    for member, project in PROJECTS.items():
        where = str((member / "pyproject.toml").relative_to(ROOT))
        extras = project.get("optional-dependencies", {}).values()
        for spec in [*project.get("dependencies", []), *(s for e in extras for s in e)]:
            found.append((where, Requirement(spec)))
    for group in WORKSPACE.get("dependency-groups", {}).values():
        found += [("pyproject.toml", Requirement(s)) for s in group if isinstance(s, str)]
    return [(w, r) for w, r in found if canonicalize_name(r.name) not in MEMBER_NAMES]


def _pinned() -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for pin in PINS:
        m = PIN.match(pin)
        if m:
            versions.setdefault(canonicalize_name(m[1]), []).append(m[2])
    return versions


def test_no_file_names_a_package_index():
    files = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if INDEX.search(line):
                hits.append(f"{name}:{n}: {line.strip()[:120]}")
    assert not hits, "package index named (keep index choice to the machine):\n" + "\n".join(hits)


def test_lock_file_is_not_tracked():
    tracked = [p for p in _git("ls-files", "-z") if Path(p).name == "uv.lock"]
    assert not tracked, f"uv.lock records download addresses; `git rm --cached {tracked[0]}`"
    assert _git("check-ignore", "uv.lock") == ["uv.lock"], "uv.lock must stay in .gitignore"


def test_constraints_are_exact_pins():
    assert PINS, "[tool.uv] constraint-dependencies is empty"
    bad = [p for p in PINS if not PIN.match(p) or "://" in p or "@" in p]
    assert not bad, f"not of the form name==version[; marker]: {bad}"
    for p in PINS:
        if (marker := PIN.match(p)[3]) is not None:
            Marker(marker)  # raises on an invalid marker
    names = Counter(canonicalize_name(PIN.match(p)[1]) for p in PINS)
    forked = [p for p in PINS if names[canonicalize_name(PIN.match(p)[1])] > 1]
    assert all(PIN.match(p)[3] for p in forked), (
        f"several pins of one package need markers: {forked}"
    )
    assert len(set(PINS)) == len(PINS), "duplicate pins"
    assert not MEMBER_NAMES & set(names), "workspace members are not pinned"


def test_member_dependencies_have_lower_bounds_the_pins_satisfy():
    pinned = _pinned()
    problems = []
    for where, req in _requirements():
        ops = {s.operator for s in req.specifier}
        if not ops & {">=", ">", "==", "~=", "==="}:
            problems.append(f"{where}: {req} has no lower bound")
        versions = pinned.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{where}: {req.name} is not pinned (scripts/refresh_pins.py)")
        elif bad := [v for v in versions if not req.specifier.contains(v, prereleases=True)]:
            problems.append(f"{where}: the pin {req.name}=={bad[0]} is outside {req.specifier}")
    assert not problems, "\n".join(problems)
