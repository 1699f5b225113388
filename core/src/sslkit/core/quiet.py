"""Third-party lines that say nothing to a user of sslkit, kept off the terminal in one place.

:func:`quiet` is called by the CLI and by ``api.pretrain`` / ``evaluate`` / ``export``. Each
entry is narrow: one message of one module (``warnings``) or one logger (``logging``), so any
other warning or log line of those libraries still shows. Importing this module imports
neither torch nor any plugin.
"""

from __future__ import annotations

import logging
import re
import warnings

WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    # torch_geometric scripts a few helpers at import time
    (FutureWarning, r"`torch\.jit\.script` is deprecated", r"torch\.jit\._script$"),
    # PyG builds CSR adjacency tensors (graphs plugin); torch warns once about both
    (UserWarning, r"Sparse invariant checks are implicitly disabled", r"torch_geometric\."),
    (UserWarning, r"Sparse CSR tensor support is in beta state", r"torch_geometric\."),
)
"""``(category, message regex, module regex)`` of the warnings :func:`quiet` hides."""

LOGS: dict[str, str] = {
    # the ONNX exporter registers torchvision's operators when it can, and logs when it cannot
    "torch.onnx._internal.exporter._registration": r"torchvision is not installed",
    # torch.export trying a capture strategy that the ONNX exporter then replaces by another
    "torch._guards": r"Error while creating guard|Created at:",
    "torch.fx.experimental.symbolic_shapes": r"Unable to find user code corresponding to",
}
"""Logger name -> regex of the messages (their start) :func:`quiet` drops from that logger."""


class _Drop(logging.Filter):
    """Drops the records of one logger whose message starts with ``pattern``."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(str(record.msg))


def quiet() -> None:
    """Hide the third-party warnings and log lines of :data:`WARNINGS` and :data:`LOGS`
    (idempotent: calling it again adds nothing)."""
    for category, message, module in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, pattern in LOGS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) for f in logger.filters):
            logger.addFilter(_Drop(pattern))
