"""Sparse x dense products under bf16 autocast."""

from __future__ import annotations

import torch

__all__ = ["sparse_mm"]


def sparse_mm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for a sparse (CSR or COO) ``adj``, with autocast off and in fp32 (fp64 when
    ``adj`` is), returned in ``x``'s dtype. Autocast would cast the product to bf16, which
    neither MKL's CSR kernels on CPU ("addmm_out_sparse_csr_impl_mkl" not implemented for
    'BFloat16') nor cuSPARSE with an fp32 ``adj`` accept."""
    dtype = torch.promote_types(adj.dtype, torch.float32)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return torch.sparse.mm(adj.to(dtype), x.to(dtype)).to(x.dtype)
