"""Sparse x dense products under bf16 autocast, and where a plugin's CSR fast path runs."""

from __future__ import annotations

import torch

from sslkit.core.nn.tracing import tracing

__all__ = ["csr_fast_path", "sparse_mm"]


def csr_fast_path(x: torch.Tensor) -> bool:
    """Whether a message-passing layer may take its CSR product path for the features ``x``
    instead of scatter over edges (the same sums, faster on CPU): on CPU only, not while
    tracing (ONNX exports the edge path) and not under autocast, where the edge path runs as
    it does on CUDA (so CPU tests in bf16 run CUDA's code; MKL has no bf16 CSR product)."""
    return x.device.type == "cpu" and not tracing() and not torch.is_autocast_enabled("cpu")


def sparse_mm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for a sparse (CSR or COO) ``adj``, with autocast off and in fp32 (fp64 when
    ``adj`` is), returned in ``x``'s dtype. Autocast would cast the product to bf16, which
    neither MKL's CSR kernels on CPU ("addmm_out_sparse_csr_impl_mkl" not implemented for
    'BFloat16') nor cuSPARSE with an fp32 ``adj`` accept."""
    dtype = torch.promote_types(adj.dtype, torch.float32)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return torch.sparse.mm(adj.to(dtype), x.to(dtype)).to(x.dtype)
