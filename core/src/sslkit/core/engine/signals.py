"""SIGTERM / SIGINT during training: finish the step, write a checkpoint, stop cleanly.

The first signal sets a flag that the loop reads after each optimizer step (agreed across
ranks); a second SIGINT restores the default handler behaviour and stops at once.
"""

from __future__ import annotations

import signal
import threading

from sslkit.core.errors import SSLKitError


class RunInterrupted(SSLKitError):
    """Training stopped on a signal after saving a checkpoint; ``--resume`` continues it."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopSignals:
    """Context manager catching SIGTERM and SIGINT (main thread only; elsewhere a no-op)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""
