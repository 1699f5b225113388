"""Rewrite the known-good pins, ``[tool.uv] constraint-dependencies`` in pyproject.toml.

    uv run python scripts/refresh_pins.py              # the newest releases (resolved without the pins)
    uv run python scripts/refresh_pins.py --from-lock  # the versions the local uv.lock holds

The newest resolution is made in a temporary copy of the workspace's pyproject files with the
pins removed, so the real uv.lock is only touched at the end, by `uv lock` with the new pins.
Every third-party package of the resolution is pinned by name and version, all groups and
extras included; a package the resolution forks by Python version keeps its marker.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
BLOCK = re.compile(r"^constraint-dependencies = \[[^\]]*\]", re.M)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!_-]*)$")
EXPORT = [
    "uv",
    "export",
    "--quiet",
    "--frozen",
    "--all-packages",
    "--all-groups",
    "--all-extras",
    "--no-emit-workspace",
    "--no-hashes",
    "--no-header",
    "--no-annotate",
]


def unpinned_copy(tmp: Path) -> Path:
    """The workspace's pyproject files in ``tmp``, the root one without the pins."""
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["uv"]["workspace"]["members"]
    for member in {p.parent for g in globs for p in ROOT.glob(f"{g}/pyproject.toml")}:
        dest = tmp / member.relative_to(ROOT)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(member / "pyproject.toml", dest / "pyproject.toml")
    (tmp / "pyproject.toml").write_text(
        BLOCK.sub("constraint-dependencies = []", PYPROJECT.read_text())
    )
    return tmp


def pins(project: Path) -> list[str]:
    """``name==version`` for every third-party package of ``project``'s uv.lock."""
    out = subprocess.run(
        [*EXPORT, "--directory", str(project)], check=True, capture_output=True, text=True
    ).stdout
    reqs = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(("#", "-", " ")):
            continue
        req, _, marker = (s.strip() for s in line.partition(";"))
        if not PIN.match(req):
            sys.exit(f"not a name==version pin: {line!r}")
        reqs.append((req, marker))
    count = Counter(req.split("==")[0] for req, _ in reqs)
    # one version everywhere: the bare pin (a constraint applies only where the package is
    # needed); several (a release that dropped an older Python): each with its marker
    return [
        req if count[req.split("==")[0]] == 1 else f"{req}; {marker}"
        for req, marker in sorted(reqs, key=lambda r: (r[0].split("==")[0], r[1]))
    ]


def write(new: list[str]) -> None:
    body = "".join(f'    "{p}",\n' for p in new)
    text, n = BLOCK.subn(f"constraint-dependencies = [\n{body}]", PYPROJECT.read_text(), count=1)
    if n != 1:
        sys.exit(f"{PYPROJECT}: no `constraint-dependencies = [...]` under [tool.uv]")
    PYPROJECT.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from-lock", action="store_true", help="pin the local uv.lock as it is")
    ap.add_argument("--no-lock", action="store_true", help="do not run `uv lock` afterwards")
    args = ap.parse_args()
    if args.from_lock:
        new = pins(ROOT)
    else:
        with tempfile.TemporaryDirectory(prefix="sslkit-pins-") as tmp:
            project = unpinned_copy(Path(tmp))
            subprocess.run(["uv", "lock", "--quiet", "--directory", str(project)], check=True)
            new = pins(project)
    old = set(tomllib.loads(PYPROJECT.read_text())["tool"]["uv"].get("constraint-dependencies", []))
    write(new)
    for pin in sorted(set(new) ^ old, key=lambda p: (p.split("==")[0], p not in new)):
        print(("+ " if pin in new else "- ") + pin)
    print(f"{len(new)} pins in {PYPROJECT.name} ({len(set(new) ^ old)} lines changed)")
    if not args.no_lock:
        subprocess.run(["uv", "lock", "--quiet", "--directory", str(ROOT)], check=True)


if __name__ == "__main__":
    main()
