"""User-facing errors: problems a user can fix (bad data, bad config, a wrong name).

The CLI prints them as one line and exits with code 2, without a traceback (``--debug`` shows
it). Each message says what is wrong, where (file, row, column or key) and how to fix it.
"""

from __future__ import annotations


class SSLKitError(Exception):
    """Base of every error a user can fix; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class UsageError(SSLKitError):
    """An unknown name (domain, method, preset, task, format) or a wrong combination of options."""


class ConfigError(SSLKitError):
    """A config file or ``--set`` override names an unknown key or has a value of the wrong type."""


class DataError(SSLKitError):
    """Input data that cannot be used; the message names the file, row, column or key."""

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ):
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        text = f"{': '.join([', '.join(where), message]) if where else message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)
        self.path, self.row, self.column, self.hint = path, row, column, hint


class RunError(SSLKitError):
    """A run folder that cannot be used as asked (no checkpoint, exists without --resume, unwritable)."""
