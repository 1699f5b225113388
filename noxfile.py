"""The one entry point for checks: `uv run nox` (lint, namespace, tests, isolation).

`uv run nox -s bench` runs the benchmarks and `uv run nox -s latest` the tests against the newest
release of every dependency, ignoring the pins (neither is part of the default run).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "namespace", "tests", "conformance", "isolation"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
# the shared members' own tests and the cross-member integration tests; each plugin's own tests
# run once, in `isolation` (a venv holding that plugin alone, installed from its wheel)
SHARED_TEST_DIRS = ["core/tests", "cli/tests", "packages/sslkit-testing/tests", "tests"]
TEST_DIRS = [*SHARED_TEST_DIRS[:3], *[f"plugins/{p}/tests" for p in PLUGINS], "tests"]
# the conformance kit (every method x DDP, export, resume, import, bf16) runs in its own session
PYTEST = ["-m", "not slow and not conformance", "-p", "no:cacheprovider", "-q"]
CONFORMANCE = ["-m", "conformance and not slow", "-p", "no:cacheprovider", "-q"]
# two pytest-xdist workers, one torch thread each: most of a test's time is one thread (Python,
# small tensors, a child process starting), so two of them keep both cores busy
WORKERS = ["-n", "2", "--dist", "worksteal"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def namespace(session: nox.Session) -> None:
    """`sslkit` is a PEP 420 namespace: no distribution may ship src/sslkit/__init__.py."""
    bad = [
        str(p.relative_to(ROOT))
        for p in ROOT.glob("**/src/sslkit/__init__.py")
        if ".nox" not in p.parts and ".venv" not in p.parts
    ]
    if bad:
        session.error(f"sslkit is a namespace package; delete: {', '.join(bad)}")
    session.log("no src/sslkit/__init__.py: the namespace is intact")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The tests of core, cli, sslkit-testing and the cross-member tests, in the workspace
    environment (slow tests excluded); each plugin's own tests run in `isolation`
    (`uv run nox -s isolation -- graphs` for one plugin)."""
    env = {"SSLKIT_PLUGINS": None, **ONE_THREAD}
    session.run("pytest", *PYTEST, *WORKERS, *session.posargs, *SHARED_TEST_DIRS, env=env)


@nox.session(venv_backend="none")
def conformance(session: nox.Session) -> None:
    """``sslkit.testing.check_plugin`` on every method of every plugin (and the kit's own tests
    on the digits plugin): 2-process DDP, every export format, SIGTERM + resume, light import.
    Prints one summary line per plugin."""
    env = {"SSLKIT_PLUGINS": None, **ONE_THREAD}
    folders = ["packages/sslkit-testing/tests", *[f"plugins/{p}/tests" for p in PLUGINS]]
    session.run("pytest", *CONFORMANCE, *WORKERS, *session.posargs, *folders, env=env)


@nox.session(venv_backend="none")
def isolation(session: nox.Session) -> None:
    """Build the wheels; for each plugin, a fresh venv with core + cli + that plugin alone:
    its tests pass (this is where a plugin's own tests run), `sslkit plugins` lists only it,
    and one CLI pretrain/evaluate/export runs."""
    work = Path(tempfile.mkdtemp(prefix="sslkit-isolation-"))
    dist = work / "dist"
    session.run("uv", "build", "--all-packages", "--wheel", "-q", "-o", str(dist), external=True)
    wheels = {w.name.split("-")[0].replace("_", "-"): w for w in dist.glob("*.whl")}
    targets = session.posargs or PLUGINS
    try:
        for plugin in targets:
            venv = work / f"venv-{plugin}"
            session.run("uv", "venv", "-q", "--python", sys.executable, str(venv), external=True)
            python = str(venv / "bin" / "python")
            wanted = [
                wheels["sslkit-core"],
                wheels["sslkit-cli"],
                wheels["sslkit-testing"],
                wheels[f"sslkit-{plugin}"],
            ]
            session.run(
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                python,
                *map(str, wanted),
                "pytest>=8",
                "pytest-timeout>=2.3",
                "pytest-xdist>=3.6",
                external=True,
            )
            env = {
                "SSLKIT_PLUGINS": None,
                # the first import writes the bytecode of what it imports, which every later
                # process reuses (compiling the whole venv at install took 40 s of CPU per
                # plugin, most of it for modules no test imports)
                "PYTHONDONTWRITEBYTECODE": None,
                **ONE_THREAD,
                "VIRTUAL_ENV": str(venv),
                "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            }
            listing = session.run(
                python,
                "-m",
                "sslkit.cli",
                "plugins",
                silent=True,
                env={**env, "COLUMNS": "200"},
                external=True,
            )
            others = [p for p in PLUGINS if p != plugin and f"│ {p} " in listing]
            if f"│ {plugin} " not in listing or others or "broken" in listing:
                session.error(
                    f"`sslkit plugins` in the {plugin}-only venv should list only {plugin}:\n{listing}"
                )
            session.log(f"{plugin}: `sslkit plugins` lists only {plugin}")
            # the plugin's own tests, importing the installed wheels (not the source tree)
            with session.chdir(work):
                session.run(
                    python,
                    "-m",
                    "pytest",
                    *PYTEST,
                    *WORKERS,
                    "--rootdir",
                    str(ROOT),
                    "-c",
                    str(ROOT / "pyproject.toml"),
                    str(ROOT / "plugins" / plugin / "tests"),
                    env=env,
                    external=True,
                )
                out = work / f"runs-{plugin}"
                session.run(
                    python,
                    "-m",
                    "sslkit.cli",
                    "pretrain",
                    plugin,
                    "--max-steps",
                    "2",
                    "--epochs",
                    "1",
                    # the default task and its payoff section are the plugin's tests' to prove
                    # (speech's 2-step pretrain took 209 s of CPU with it); the CLI path is what this run checks
                    "--no-evaluate",
                    "--quiet",
                    "--out",
                    str(out),
                    "--name",
                    "iso",
                    env=env,
                    external=True,
                )
                session.run(
                    python,
                    "-m",
                    "sslkit.cli",
                    "evaluate",
                    str(out / "iso"),
                    "--task",
                    "representation",
                    env=env,
                    external=True,
                )
                session.run(
                    python,
                    "-m",
                    "sslkit.cli",
                    "export",
                    str(out / "iso"),
                    "--to",
                    "parquet",
                    env=env,
                    external=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Run the benchmarks (each writes benchmarks/results/<name>.json and its docs table)."""
    names = session.posargs or sorted(
        p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith("_")
    )
    for name in names:
        session.run(
            "uv",
            "run",
            "--group",
            "bench",
            "python",
            str(ROOT / "benchmarks" / f"{name}.py"),
            external=True,
        )


# printed by `latest`: the packages whose new releases most often change behaviour
KEY_PACKAGES = "torch torch-geometric onnx onnxruntime faiss-cpu pandas pyarrow scikit-learn numpy"


@nox.session(venv_backend="none")
def latest(session: nox.Session) -> None:
    """The `tests` session against the newest release of every dependency (not in the default
    run): a fresh .nox/latest venv whose `uv pip install --no-config` ignores the pins."""
    venv = ROOT / ".nox" / "latest"
    python = str(venv / "bin" / "python")
    session.run("uv", "venv", "-q", "--clear", "--python", sys.executable, str(venv), external=True)
    members = ["core", "cli", *[f"plugins/{p}" for p in PLUGINS], "packages/sslkit"]
    editables = [a for m in [*members, "packages/sslkit-testing"] for a in ("-e", str(ROOT / m))]
    # --no-config: uv pip applies [tool.uv] constraint-dependencies too unless told not to; no
    # --upgrade: the venv is empty anyway, and it implies --refresh (every wheel downloaded again)
    session.run(
        *("uv", "pip", "install", "-q", "--no-config", "--compile-bytecode"),
        *("--python", python, *editables, "pytest>=8", "pytest-timeout>=2.3"),
        external=True,
    )
    show = "import sys, importlib.metadata as m; print(*(f'{n}=={m.version(n)}' for n in sys.argv[1:]))"
    session.run(python, "-c", show, *KEY_PACKAGES.split(), external=True)
    env = {"SSLKIT_PLUGINS": None, "VIRTUAL_ENV": str(venv)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    for folder in TEST_DIRS:
        if any((ROOT / folder).glob("test_*.py")) or any((ROOT / folder).glob("**/test_*.py")):
            session.run(python, "-m", "pytest", *PYTEST, *session.posargs, folder, env=env)
