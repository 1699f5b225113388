"""The one contrastive kernel: row-wise log-sum-exp of scaled similarities, fp32, chunkable.

Written here rather than taken from a library because none is numerically stable under bf16
autocast, multi-view, multi-positive, memory-lean and distributed at once (PML's NT-Xent
enumerates pairs; lightly builds and concatenates several B x B blocks and masks).

``lse_i = log sum_{j allowed} exp(a_i . k_j / t - shift * [j positive for i])``

Denominator entries can be excluded (the anchor itself via ``self_index``; positives via
``exclude_positives``, for DCL) and positives can be shifted by an additive margin. The
backward pass needs only the row softmax ``P``: ``dA = g * (P @ K) / t`` and
``dK = P^T @ (g * A) / t``. Unchunked, ``P`` is kept from the forward pass (one ``M x N``
fp32 buffer, no other ``M x N`` temporaries); chunked, it is recomputed per block of rows in
the backward pass, so memory is ``chunk_size x N``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PositiveFn = Callable[[int, int], torch.Tensor]


def upcast(x: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 (and integer) tensors to fp32; fp32 and fp64 stay as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


# Above this many logits (1 GiB in fp32) the kernel chunks rows even when not asked to.
AUTO_CHUNK_ELEMENTS = 1 << 28


def _block(
    a: torch.Tensor,
    k: torch.Tensor,
    r0: int,
    r1: int,
    inv_t: float,
    self_index: torch.Tensor | None,
    pos_fn: PositiveFn | None,
    exclude_positives: bool,
    shift: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax rows ``r0:r1`` (in place in one buffer) and their log-sum-exp."""
    s = torch.mm(a[r0:r1] * inv_t, k.t())
    if pos_fn is not None and (shift != 0.0 or exclude_positives):
        pm = pos_fn(r0, r1)
        if exclude_positives:
            s.masked_fill_(pm, float("-inf"))
        else:
            s.sub_(pm.to(s.dtype) * shift)
    if self_index is not None:
        idx = self_index[r0:r1]
        rows = torch.arange(r1 - r0, device=s.device)
        keep = idx >= 0
        s[rows[keep], idx[keep]] = float("-inf")
    m = s.amax(dim=1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s.sub_(m).exp_()
    z = s.sum(dim=1, keepdim=True)
    s.div_(z)
    return s, (m + z.log()).squeeze(1)


class _LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, k, inv_t, self_index, pos_fn, exclude_positives, shift, chunk_size):
        m = a.shape[0]
        args = (inv_t, self_index, pos_fn, exclude_positives, shift)
        if chunk_size is None and m * k.shape[0] > AUTO_CHUNK_ELEMENTS:
            chunk_size = max(1, AUTO_CHUNK_ELEMENTS // k.shape[0])
        if chunk_size is None or chunk_size >= m:
            p, lse = _block(a, k, 0, m, *args)
            ctx.save_for_backward(a, k, p)
            ctx.chunked = False
        else:
            lse = torch.cat(
                [_block(a, k, r, min(r + chunk_size, m), *args)[1] for r in range(0, m, chunk_size)]
            )
            ctx.save_for_backward(a, k)
            ctx.chunked = True
        ctx.args, ctx.chunk_size = args, chunk_size
        return lse

    @staticmethod
    def backward(ctx, g):
        inv_t = ctx.args[0]
        g = (g * inv_t).unsqueeze(1)
        if not ctx.chunked:
            a, k, p = ctx.saved_tensors
            da = torch.mm(p, k).mul_(g) if ctx.needs_input_grad[0] else None
            dk = torch.mm(p.t(), a * g) if ctx.needs_input_grad[1] else None
        else:
            a, k = ctx.saved_tensors
            m, c = a.shape[0], ctx.chunk_size
            da = torch.empty_like(a) if ctx.needs_input_grad[0] else None
            dk = torch.zeros_like(k) if ctx.needs_input_grad[1] else None
            for r in range(0, m, c):
                r1 = min(r + c, m)
                p, _ = _block(a, k, r, r1, *ctx.args)
                if da is not None:
                    torch.mm(p, k, out=da[r:r1]).mul_(g[r:r1])
                if dk is not None:
                    dk.addmm_(p.t(), a[r:r1] * g[r:r1])
        return da, dk, None, None, None, None, None, None


def logsumexp_logits(
    anchors: torch.Tensor,
    keys: torch.Tensor,
    temperature: float,
    *,
    self_index: torch.Tensor | None = None,
    positives: PositiveFn | None = None,
    exclude_positives: bool = False,
    margin: float = 0.0,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-anchor ``log sum_j exp(logit_ij)`` over allowed keys, in fp32 (autocast off).

    ``anchors``: ``(M, D)``; ``keys``: ``(N, D)`` (already normalised if cosine is wanted).
    ``self_index[i]``: the column of ``keys`` that is anchor ``i`` itself (excluded), or -1.
    ``positives(r0, r1)``: boolean ``(r1 - r0, N)`` positive mask of rows ``r0:r1``; used to
    exclude positives (DCL) or to subtract ``margin / t`` from them (additive margin).
    """
    with torch.autocast(anchors.device.type, enabled=False):
        a = upcast(anchors)
        k = upcast(keys).to(a.dtype)
        return _LogSumExp.apply(
            a,
            k,
            1.0 / temperature,
            self_index,
            positives,
            exclude_positives,
            margin / temperature,
            chunk_size,
        )


def positive_mean_logit(
    anchors: torch.Tensor,
    keys: torch.Tensor,
    temperature: float,
    positives: PositiveFn,
    self_index: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean positive logit per anchor and the number of positives (self never counts)."""
    with torch.autocast(anchors.device.type, enabled=False):
        a = upcast(anchors)
        k = upcast(keys).to(a.dtype)
        m = a.shape[0]
        c = chunk_size or max(1, min(m, AUTO_CHUNK_ELEMENTS // max(1, k.shape[0]) // 4))
        sums, counts = [], []
        for r in range(0, m, c):
            r1 = min(r + c, m)
            pm = positives(r, r1).clone()
            if self_index is not None:
                idx = self_index[r:r1]
                rows = torch.arange(r1 - r, device=pm.device)
                keep = idx >= 0
                pm[rows[keep], idx[keep]] = False
            pmf = pm.to(k.dtype)
            sums.append((torch.mm(pmf, k) * a[r:r1]).sum(1))
            counts.append(pmf.sum(1))
        total, count = torch.cat(sums), torch.cat(counts)
        return total / count.clamp_min(1) / temperature, count
