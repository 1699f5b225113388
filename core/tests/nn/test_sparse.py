"""``sparse_mm``: a sparse product that autocast cannot send to a missing bf16 kernel."""

from __future__ import annotations

import pytest
import torch

from sslkit.core.nn import sparse_mm


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_mm_by_hand_in_fp32_under_bf16_autocast(layout):
    # A = [[0, 2], [1, 0]]; A @ x swaps the rows of x, the first doubled
    adj = torch.sparse_coo_tensor([[0, 1], [1, 0]], [2.0, 1.0], (2, 2), check_invariants=True)
    adj = adj.coalesce()
    if layout == "csr":
        adj = adj.to_sparse_csr()
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    expected = torch.tensor([[6.0, 8.0], [1.0, 2.0]])
    torch.testing.assert_close(sparse_mm(adj, x), expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        if layout == "csr":  # MKL's CSR kernel: what sparse_mm keeps autocast away from
            with pytest.raises(RuntimeError, match="BFloat16"):
                torch.sparse.mm(adj, x.bfloat16())
        out = sparse_mm(adj, x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected)
    sparse_mm(adj, x).sum().backward()  # d/dx sum(A x) = A^T 1: column sums of A
    torch.testing.assert_close(x.grad, torch.tensor([[1.0, 1.0], [2.0, 2.0]]))
