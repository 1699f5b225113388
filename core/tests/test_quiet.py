"""quiet(): the listed third-party warnings and log lines are hidden, nothing else."""

from __future__ import annotations

import logging
import warnings

import pytest

from sslkit.core.quiet import LOGS, quiet


def _shown(message: str, category: type[Warning], module: str) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet()
        warnings.warn_explicit(message, category, f"/site-packages/{module}.py", 1, module=module)
    return bool(caught)


@pytest.mark.parametrize(
    ("category", "message", "module"),
    [  # as torch 2.9 and PyG 2.6 word them, from the module that warns
        (
            FutureWarning,
            "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`.",
            "torch.jit._script",
        ),
        (
            UserWarning,
            "Sparse invariant checks are implicitly disabled. Memory errors (e.g. SEGFAULT) ...",
            "torch_geometric.utils.sparse",
        ),
        (
            UserWarning,
            "Sparse CSR tensor support is in beta state. If you miss a functionality ...",
            "torch_geometric.utils.sparse",
        ),
    ],
)
def test_each_listed_warning_is_hidden_only_from_its_module(category, message, module):
    assert not _shown(message, category, module)
    assert _shown(message, category, "sslkit.graphs.encoders")  # the same text from sslkit shows
    assert _shown("something else entirely", category, module)  # its other warnings show


def test_listed_log_lines_are_dropped_and_others_of_the_logger_kept():
    quiet()
    quiet()  # idempotent: one filter per logger
    name = "torch.onnx._internal.exporter._registration"
    logger = logging.getLogger(name)
    assert len(logger.filters) == 1 and set(LOGS) >= {name}
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger.warning("torchvision is not installed. Skipping %s", "torchvision::nms")
        logger.warning("an operator could not be registered")
    finally:
        logger.removeHandler(handler)
    assert seen == ["an operator could not be registered"]
