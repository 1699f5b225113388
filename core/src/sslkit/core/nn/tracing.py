"""Whether a module runs under a graph capture (ONNX export, tracing, torch.compile), where
eager-only fast paths (sparse layouts, packed sequences) must give way to traceable code."""

from __future__ import annotations

import torch


def tracing() -> bool:
    return (
        torch.onnx.is_in_onnx_export()
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
    )
