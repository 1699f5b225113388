"""Checks of an export request, all made before any data is read: the format and its options,
the target folder, the embedding size and the device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslkit.core.errors import RunError, UsageError
from sslkit.core.export.formats import FORMATS, ExportFormat


def check_request(to: str, options: dict[str, Any]) -> ExportFormat:
    """The format named ``to``; unknown formats and options that do not apply fail before
    anything is loaded."""
    fmt = FORMATS[to]  # a UsageError listing the formats
    allowed = fmt.options
    for key, value in options.items():
        if value is None:
            continue
        if key not in allowed:
            where = [f.name for f in FORMATS.values() if key in f.options]
            raise UsageError(
                f"option {key!r} does not apply to --to {to}"
                + (f" (only to {', '.join(where)})" if where else "")
            )
        kind = allowed[key]
        if isinstance(kind, tuple) and value not in kind:
            raise UsageError(f"unknown {key} {value!r} for --to {to}; available: {', '.join(kind)}")
        if kind is int and (not isinstance(value, int) or value < 0):
            raise UsageError(f"{key} must be a non-negative integer, got {value!r}")
    return fmt


def target_folder(
    run_dir: Path, to: str, out: str | Path | None, overwrite: bool, space: str | None = None
) -> Path:
    """``out``, or ``<run>/export/<format>`` (``<run>/export/<space>/<format>`` for a space of
    a method with several); an existing one only with ``overwrite``."""
    target = Path(out) if out else Path(run_dir) / "export" / (f"{space}/{to}" if space else to)
    if target.exists() and not target.is_dir():
        raise RunError(f"{target} exists and is not a folder; choose another --out")
    if target.exists() and not overwrite:
        raise RunError(f"{target} already exists; pass --overwrite to replace it")
    return target


def check_dim(method: Any, dim: int | None, space: str | None = None) -> int:
    from sslkit.core.engine.method import dim_of

    full = dim_of(method, space)
    if dim is None or dim == full:
        return full
    nested = tuple(int(d) for d in getattr(method, "nested_dims", ()))
    if dim not in nested:
        raise UsageError(
            f"--dim {dim}: this encoder was trained at sizes "
            f"{', '.join(map(str, sorted({*nested, full})))}; train with Matryoshka sizes to "
            "export smaller embeddings"
        )
    return dim


def export_device(device: str) -> str:
    """``auto`` -> CUDA when available; under torchrun each rank takes its local GPU."""
    import torch

    from sslkit.core.distributed import local_rank, world_size
    from sslkit.core.engine.device import select_device

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and world_size() > 1:
        device = f"cuda:{local_rank()}"
    select_device(device)  # a UsageError naming --device when it is not on this machine
    return device
