"""The run folder: ``runs/<name>/`` with config, environment, metrics, checkpoints, report."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslkit.core.errors import RunError

CONFIG = "config.toml"
INFO = "info.json"
DATA_STATE = "data_state.json"
ENVIRONMENT = "environment.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
LATEST = "latest.json"
"""``checkpoints/latest.json``: names the newest complete checkpoint folder."""
STATE = "state.json"
"""A checkpoint folder's state, written last (its presence marks the folder complete)."""
REPORT = "report"
STALE = (METRICS, CHECKPOINTS, "tensorboard", "nonfinite_batch.safetensors", "default_task.json")
"""Files of a run that stopped before its first checkpoint, removed when it is started over."""


def current_umask() -> int:
    """The process's umask, read now (a test or the user may change it after import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give ``path`` (a folder: with everything in it) the mode a plain ``open`` or ``mkdir``
    would, 0666 or 0777 less the umask: for what mkstemp, mkdtemp or safetensors' writer made
    private (0600, 0700). Run files are shared like any other file the user writes."""
    mask = current_umask()
    if not path.is_dir():
        os.chmod(path, 0o666 & ~mask)
        return
    os.chmod(path, 0o777 & ~mask)
    for root, dirs, names in os.walk(path):
        for name in dirs + names:
            p = Path(root, name)
            if not p.is_symlink():
                os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``; the file
    gets the mode a plain ``open`` would give it (0666 less the umask), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def report(self) -> Path:
        return self.path / REPORT

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=2, sort_keys=True, default=str))

    def read_json(self, name: str) -> Any:
        p = self.path / name
        if not p.is_file():
            raise RunError(f"{self.path}: missing {name}; is this an sslkit run folder?")
        return json.loads(p.read_text(encoding="utf-8"))

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint was completed (``latest.json`` or a finished ``step-*``)."""
        folder = self.checkpoints
        return (folder / LATEST).is_file() or any(
            (p / STATE).is_file() for p in folder.glob("step-*")
        )

    @classmethod
    def create(cls, out: str | Path, name: str, *, resume: bool = False, log=None) -> RunDir:
        """Make ``out/name``. Without ``resume`` it is an error if the folder holds a run with a
        checkpoint; a run that stopped before its first checkpoint (a failed start) is started
        over in the same folder (its ``config.toml`` is then replaced), with a ``log`` line."""
        path = Path(out) / name
        if resume:
            if not (path / CONFIG).is_file():
                raise RunError(
                    f"--resume: no run to continue in {path} (no {CONFIG}); drop --resume to start one"
                )
            return cls(path)
        run = cls(path)
        if run.has_checkpoint():
            raise RunError(
                f"run folder {path} already exists; pass --resume to continue it, "
                "or choose another --out / train.name"
            )
        if (path / CONFIG).exists() or (path / CHECKPOINTS).exists():
            for stale in STALE:  # what the failed start left; config.toml is rewritten
                target = path / stale
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            if log is not None:
                log(
                    f"{path} holds a run that stopped before its first checkpoint: starting over "
                    f"in it (its {CONFIG} is replaced)"
                )
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise RunError(
                f"cannot write the run folder {path}: {exc.strerror or exc}; choose a writable --out"
            ) from None
        return cls(path)

    @classmethod
    def latest(cls, out: str | Path, domain: str, method: str) -> RunDir:
        """The most recently trained run of ``domain``/``method`` in ``out`` (for ``--resume``
        without a name): the newest checkpoint wins, then the newest config."""
        import tomllib

        found = []
        for config in Path(out).glob(f"*/{CONFIG}"):
            try:
                head = tomllib.loads(config.read_text(encoding="utf-8")).get("run", {})
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if head.get("domain") == domain and head.get("method") == method:
                marks = [p.stat().st_mtime for p in (config.parent / CHECKPOINTS).glob("*.json")]
                found.append((max(marks, default=0.0), config.stat().st_mtime, config.parent))
        if not found:
            raise RunError(
                f"--resume: no {domain}/{method} run to continue in {out}; drop --resume to "
                "start one, or pass --out and --name of the run"
            )
        return cls(max(found)[2])

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        p = Path(path)
        if not (p / CONFIG).is_file():
            raise RunError(
                f"{p} is not an sslkit run folder (no {CONFIG}); pass the folder `sslkit pretrain` printed"
            )
        return cls(p)
