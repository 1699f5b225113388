"""Atomic output: an export is written into a temporary folder beside its target and renamed
into place only when complete; a failure (or SIGTERM) removes it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sslkit.core.errors import RunError
from sslkit.core.export.group import ExportGroup


def staging_folder(group: ExportGroup, target: Path) -> Path:
    """``.<target>.partial-*`` beside ``target``, made by rank 0 and named to every rank."""
    prepared: tuple[str | None, str | None] = (None, None)
    if group.rank == 0:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            prepared = (
                tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent),
                None,
            )
        except OSError as exc:
            prepared = (None, f"cannot write next to {target}: {exc.strerror or exc}")
    tmp_name, problem = group.broadcast(prepared)
    if problem is not None:
        raise RunError(problem + "; choose a writable --out")
    return Path(tmp_name)


def discard(tmp: Path, made_parent: Path | None) -> None:
    """Remove the temporary folder (and ``made_parent``, the folder the export created, when
    it is left empty)."""
    shutil.rmtree(tmp, ignore_errors=True)
    if made_parent is not None:
        try:
            made_parent.rmdir()  # only when empty: the folder this export created
        except OSError:
            pass


class Interrupted(RunError):
    """SIGTERM during an export (the partial output is removed)."""


def raise_on_sigterm() -> Callable[[], object]:
    """Turn SIGTERM into an exception while exporting, so the temporary folder is removed;
    returns the function that puts the previous handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise Interrupted("export interrupted by SIGTERM; nothing was written")

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
