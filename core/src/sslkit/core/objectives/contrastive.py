"""Contrastive objectives, all on the shared kernel in ``_kernel.py``.

Calling convention (:func:`as_views`): two views as two ``(batch, dim)`` tensors,
``loss(view_a, view_b)`` (lightly's order), or all views in one ``(batch, views, dim)`` tensor,
``loss(z)``; both give the same loss. Labels and masks are keyword arguments. Where there is a
prediction and a target (MoCo's query and momentum key, NNCLR's predictions and projections)
the order is ``(prediction, target)``.

Row ``i`` view ``v`` is an anchor; by default its positives are the other views of row ``i``
and every other embedding of the (global) batch is a negative. In a process group of more than
one rank (``group``: None = the world when torch.distributed is initialised) keys are gathered
from its ranks with an autograd-aware all_gather and the returned loss is the global-batch
loss (see ``sslkit.core.distributed`` for the gradient convention).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective
from sslkit.core.objectives._kernel import logsumexp_logits, positive_mean_logit, upcast
from sslkit.core.objectives.queue import FeatureQueue, QueuedLoss

__all__ = [
    "DCL",
    "DCLW",
    "NNCLR",
    "AMInfoNCE",
    "DebiasedInfoNCE",
    "InfoNCE",
    "MetricLoss",
    "MoCoQueue",
    "SupCon",
    "as_views",
]


def as_views(
    view_a: torch.Tensor | Sequence[torch.Tensor], view_b: torch.Tensor | None = None
) -> torch.Tensor:
    """``(batch, views, dim)`` from either calling form of a multi-view loss: two ``(batch,
    dim)`` views ``(view_a, view_b)``, or one ``(batch, views, dim)`` tensor (a sequence of
    ``(batch, dim)`` views is stacked into one)."""
    if view_b is not None:
        if not (
            isinstance(view_a, torch.Tensor)
            and isinstance(view_b, torch.Tensor)
            and view_a.dim() == 2
            and view_b.shape == view_a.shape
            and view_b.is_floating_point()
        ):
            shapes = [
                tuple(v.shape) if isinstance(v, torch.Tensor) else type(v) for v in (view_a, view_b)
            ]
            raise ValueError(
                "two views are two (batch, dim) float tensors of one shape, got "
                f"{shapes[0]} and {shapes[1]}; pass labels / masks by keyword, and more views as "
                "one (batch, views, dim) tensor"
            )
        return torch.stack([view_a, view_b], dim=1)
    if isinstance(view_a, torch.Tensor):
        if view_a.dim() != 3:
            raise ValueError(
                "expected (batch, views, dim) embeddings or two (batch, dim) views, got shape "
                f"{tuple(view_a.shape)}"
            )
        return view_a
    return torch.stack(list(view_a), dim=1)


def _normalize(z: torch.Tensor) -> torch.Tensor:
    with torch.autocast(z.device.type, enabled=False):
        return F.normalize(upcast(z), dim=-1)


class _Layout:
    """Flattened local anchors, gathered keys and index bookkeeping for ``(B, V, D)`` input."""

    def __init__(self, z: torch.Tensor, group=None):
        b, v, d = z.shape
        self.b, self.v, self.group = b, v, group
        self.anchors = z.reshape(b * v, d)
        self.keys, start = D.gather_with_offset(self.anchors, group)
        self.row_start = start // v  # first global sample index of this rank
        dev = z.device
        self.self_index = start + torch.arange(b * v, device=dev)
        self.anchor_rows = (self.row_start + torch.arange(b, device=dev)).repeat_interleave(v)
        self.key_rows = torch.arange(self.keys.shape[0] // v, device=dev).repeat_interleave(v)

    def positives_fn(self, labels: torch.Tensor | None, positive_mask: torch.Tensor | None):
        """Boolean positive-mask maker (rows r0:r1) for the anchors, or None for 'same row'."""
        v = self.v
        if labels is None and positive_mask is None:
            ar, kr = self.anchor_rows, self.key_rows
            return lambda r0, r1: ar[r0:r1, None] == kr[None, :]
        if labels is not None:
            lab = labels.reshape(-1)
            al = lab.repeat_interleave(v)
            kl = D.gather(lab, self.group).repeat_interleave(v)
            ar, kr = self.anchor_rows, self.key_rows
            return lambda r0, r1: (al[r0:r1, None] == kl[None, :]) | (ar[r0:r1, None] == kr[None])
        pm = positive_mask.bool()
        if pm.shape != (self.b, self.keys.shape[0] // v):
            raise ValueError(
                f"positive_mask must be (local batch, global batch) = "
                f"{(self.b, self.keys.shape[0] // v)}, got {tuple(pm.shape)}"
            )
        ar, kr = self.anchor_rows, self.key_rows
        lr = ar - self.row_start

        def fn(r0: int, r1: int) -> torch.Tensor:
            same = ar[r0:r1, None] == kr[None, :]
            return same | pm[lr[r0:r1]][:, kr]

        return fn

    def negatives_lse(self, t: float, chunk_size=None) -> torch.Tensor:
        """``(B * V,)`` log-sum-exp of each anchor's logits over the keys that are not its
        positives (DCL: neither itself nor the other views of its sample)."""
        return logsumexp_logits(
            self.anchors,
            self.keys,
            t,
            self_index=self.self_index,
            positives=self.positives_fn(None, None),
            exclude_positives=True,
            chunk_size=chunk_size,
        )

    def same_row_positive_logit(self, zn: torch.Tensor, temperature: float) -> torch.Tensor:
        """Mean logit with the other views of the same row, ``(B * V,)``; cheap, no B x B."""
        sim = torch.einsum("bvd,bwd->bvw", zn, zn)
        diag = sim.diagonal(dim1=1, dim2=2)
        return ((sim.sum(-1) - diag) / (self.v - 1) / temperature).reshape(-1)


class _BatchContrastive(Collective, nn.Module):
    """What the batch contrastive losses (InfoNCE, DCL, DebiasedInfoNCE) share: the
    temperature, the chunk size of the logits kernel and the process group of the global
    batch."""

    distributed_kind = "gather"

    def __init__(self, temperature: float = 0.1, chunk_size: int | None = None, group=None):
        super().__init__()
        self.temperature = temperature
        self.chunk_size = chunk_size
        self.group = group


class InfoNCE(_BatchContrastive):
    """InfoNCE / NT-Xent (SimCLR; Chen et al. 2020, "A Simple Framework for Contrastive
    Learning of Visual Representations"; Oord et al. 2018).

    ``loss_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip / t) / sum_{a != i} exp(s_ia / t) )``
    with cosine similarities ``s``, ``P(i)`` the other views of anchor ``i``'s row (plus rows
    with the same ``labels`` / ``positive_mask``), averaged over anchors with a positive. With
    two views this is exactly NT-Xent; with labels it is SupCon's ``L_out``.

    ``forward(view_a, view_b=None, *, labels=None, positive_mask=None)``: two ``(batch, dim)``
    views, or ``view_a`` ``(batch, views >= 2, dim)`` alone; ``labels`` ``(batch,)``;
    ``positive_mask`` boolean ``(batch, global batch)`` of extra positive rows. ``chunk_size``
    bounds memory to ``chunk_size x (views * global batch)``. ``group``: the process group whose
    batch is the global batch (None: the world; see ``sslkit.core.distributed``).
    """

    def forward(
        self,
        view_a: torch.Tensor | Sequence[torch.Tensor],
        view_b: torch.Tensor | None = None,
        *,
        labels: torch.Tensor | None = None,
        positive_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        z = as_views(view_a, view_b)
        if z.shape[1] < 2 and labels is None and positive_mask is None:
            raise ValueError("InfoNCE needs at least 2 views (or labels / a positive mask)")
        zn = _normalize(z)
        lay = _Layout(zn, self.group)
        t = self.temperature
        lse = logsumexp_logits(
            lay.anchors, lay.keys, t, self_index=lay.self_index, chunk_size=self.chunk_size
        )
        if labels is None and positive_mask is None:
            pos = lay.same_row_positive_logit(zn, t)
            loss = lse - pos
            return D.globalize_loss(loss.mean(), loss.shape[0], self.group)
        fn = lay.positives_fn(labels, positive_mask)
        pos, count = positive_mean_logit(
            lay.anchors, lay.keys, t, fn, lay.self_index, self.chunk_size
        )
        valid = count > 0
        n = valid.sum()
        loss = ((lse - pos) * valid).sum() / n.clamp_min(1)
        return D.globalize_loss(loss, n, self.group)


class SupCon(InfoNCE):
    """Supervised contrastive loss (Khosla et al. 2020, "Supervised Contrastive Learning"),
    ``L_out`` form: positives are all other embeddings with the same label (all views).

    ``forward(view_a, view_b=None, *, labels, positive_mask=None)``: two ``(batch, dim)`` views
    or ``view_a`` ``(batch, views >= 1, dim)`` alone; ``labels`` ``(batch,)`` (keyword).
    ``base_temperature``, when set, multiplies the loss by ``temperature / base_temperature``
    as in the reference code.
    """

    def __init__(
        self,
        temperature: float = 0.07,
        base_temperature: float | None = None,
        chunk_size: int | None = None,
        group=None,
    ):
        super().__init__(temperature, chunk_size, group)
        self.base_temperature = base_temperature

    def forward(self, view_a, view_b=None, *, labels=None, positive_mask=None):  # type: ignore[override]
        z = as_views(view_a, view_b)  # first: labels given positionally fail here, by name
        if labels is None:
            raise ValueError("SupCon needs labels=, a (batch,) tensor")
        loss = super().forward(z, labels=labels, positive_mask=positive_mask)
        if self.base_temperature is not None:
            loss = loss * (self.temperature / self.base_temperature)
        return loss


class AMInfoNCE(InfoNCE):
    """Additive-margin InfoNCE (AM-Softmax applied to contrastive pairs; Wang et al. 2018,
    "Additive Margin Softmax for Face Verification"; used for speaker embeddings, e.g.
    Xia et al. 2021, "Self-supervised Text-independent Speaker Verification using Prototypical
    Momentum Contrastive Learning"): every positive logit becomes ``(s_ip - m) / t`` in both
    numerator and denominator. ``margin=0`` is InfoNCE. Called as ``InfoNCE``.
    """

    def __init__(self, temperature: float = 0.1, margin: float = 0.2, chunk_size=None, group=None):
        super().__init__(temperature, chunk_size, group)
        self.margin = margin

    def forward(self, view_a, view_b=None, *, labels=None, positive_mask=None):  # type: ignore[override]
        zn = _normalize(as_views(view_a, view_b))
        lay = _Layout(zn, self.group)
        t, m = self.temperature, self.margin
        fn = lay.positives_fn(labels, positive_mask)
        lse = logsumexp_logits(
            lay.anchors,
            lay.keys,
            t,
            self_index=lay.self_index,
            positives=fn,
            margin=m,
            chunk_size=self.chunk_size,
        )
        if labels is None and positive_mask is None:
            pos = lay.same_row_positive_logit(zn, t)
            count = torch.full_like(pos, lay.v - 1)
        else:
            pos, count = positive_mean_logit(
                lay.anchors, lay.keys, t, fn, lay.self_index, self.chunk_size
            )
        valid = count > 0
        n = valid.sum()
        loss = ((lse - pos + m / t) * valid).sum() / n.clamp_min(1)
        return D.globalize_loss(loss, n, self.group)


class DCL(_BatchContrastive):
    """Decoupled contrastive loss (Yeh et al. 2022, "Decoupled Contrastive Learning"), Eq. 6:
    the positive is removed from the denominator,
    ``loss_ip = -w_ip s_ip / t + log sum_{n not in P(i) u {i}} exp(s_in / t)``,
    averaged over anchors and their positives. ``w = 1`` here; see ``DCLW``.

    ``forward(view_a, view_b=None)``: two ``(batch, dim)`` views, or ``view_a`` ``(batch,
    views >= 2, dim)`` alone.
    """

    def pair_weights(self, zn: torch.Tensor) -> torch.Tensor | None:
        """Weights ``(B, V, V)`` for positive pairs, or None for 1."""
        return None

    def forward(self, view_a, view_b=None):
        zn = _normalize(as_views(view_a, view_b))
        lay = _Layout(zn, self.group)
        t, v = self.temperature, lay.v
        lse = lay.negatives_lse(t, self.chunk_size)
        sim = torch.einsum("bvd,bwd->bvw", zn, zn) / t
        w = self.pair_weights(zn)
        if w is not None:
            sim = sim * w
        off = ~torch.eye(v, dtype=torch.bool, device=zn.device)
        pos = (sim * off).sum(-1).reshape(-1) / (v - 1)
        loss = lse - pos
        return D.globalize_loss(loss.mean(), loss.shape[0], self.group)


class DCLW(DCL):
    """DCL with the negative von Mises-Fisher weighting of positives (Yeh et al. 2022):
    ``w_i = 2 - N exp(s_i / sigma) / sum_j exp(s_j / sigma)`` over the global batch of
    positive-pair similarities (detached, as in the reference code and lightly's DCLWLoss).
    """

    def __init__(self, temperature: float = 0.1, sigma: float = 0.5, chunk_size=None, group=None):
        super().__init__(temperature, chunk_size, group)
        self.sigma = sigma

    def pair_weights(self, zn):
        with torch.no_grad():
            sim = torch.einsum("bvd,bwd->bvw", zn, zn) / self.sigma
            g, start = D.gather_with_offset(sim, self.group)
            w = 2 - g.shape[0] * torch.softmax(g, dim=0)
            return w[start : start + zn.shape[0]]


class DebiasedInfoNCE(_BatchContrastive):
    """Debiased contrastive loss (Chuang et al. 2020, "Debiased Contrastive Learning"), Eq. 7:
    ``-log e^{s_p/t} / (e^{s_p/t} + N g)`` with
    ``g = max((1/N sum_n e^{s_n/t} - tau_plus e^{s_p/t}) / (1 - tau_plus), e^{-1/t})``, where
    ``N`` counts the negatives (all embeddings that are not the anchor or its positives) and
    ``tau_plus`` is the class prior. ``tau_plus=0`` is NT-Xent without positives in the sum of
    other positives. Averaged over anchors and their positives.

    ``forward(view_a, view_b=None)``: two ``(batch, dim)`` views, or ``view_a`` ``(batch,
    views >= 2, dim)`` alone.
    """

    def __init__(
        self, temperature: float = 0.1, tau_plus: float = 0.1, chunk_size=None, group=None
    ):
        super().__init__(temperature, chunk_size, group)
        self.tau_plus = tau_plus

    def forward(self, view_a, view_b=None):
        zn = _normalize(as_views(view_a, view_b))
        lay = _Layout(zn, self.group)
        t, v, tp = self.temperature, lay.v, self.tau_plus
        lse_neg = lay.negatives_lse(t, self.chunk_size).reshape(lay.b, v, 1)
        n_neg = lay.keys.shape[0] - v
        sp = torch.einsum("bvd,bwd->bvw", zn, zn) / t  # positive logits (diagonal unused)
        # log(N g) in log-space, shifted by c for stability at small t
        c = torch.maximum(lse_neg, sp).detach()
        num = (lse_neg - c).exp() - tp * n_neg * (sp - c).exp()
        floor = n_neg * torch.exp(-1.0 / t - c)
        ng = torch.maximum(num / (1 - tp), floor)
        loss = torch.log((sp - c).exp() + ng) + c - sp
        off = ~torch.eye(v, dtype=torch.bool, device=zn.device)
        loss = (loss * off).sum(-1).reshape(-1) / (v - 1)
        return D.globalize_loss(loss.mean(), loss.shape[0], self.group)


class MoCoQueue(QueuedLoss):
    """MoCo contrastive loss with a memory bank (He et al. 2020, "Momentum Contrast for
    Unsupervised Visual Representation Learning"):
    ``-log e^{q.k+/t} / (e^{q.k+/t} + sum_{n in queue} e^{q.n/t})``.

    ``forward(query, key)``, in the order ``(prediction, target)``: queries ``(batch, dim)``
    from the student, keys ``(batch, dim)`` from the momentum encoder (treated as constants).
    The normalised keys of every rank of ``group`` are enqueued into ``self.queue`` (a
    :class:`FeatureQueue`, checkpointed with the loss, identical on every rank) *after* the
    loss is computed, so a key is never its own negative.
    """

    bank = "queue"
    queue: FeatureQueue
    queue_size: int

    def __init__(self, dim: int, queue_size: int = 65536, temperature: float = 0.2, group=None):
        super().__init__(dim, queue_size, temperature, group)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if query.dim() != 2 or key.shape != query.shape:
            raise ValueError(
                "MoCoQueue takes (query, key), two (batch, dim) tensors of one shape, got "
                f"{tuple(query.shape)} and {tuple(key.shape)}"
            )
        qn, kn = _normalize(query), _normalize(key.detach())
        t = self.temperature
        pos = (qn * kn).sum(-1) / t
        negatives = self.queue.read()
        if negatives.shape[0] > 0:
            lse_neg = logsumexp_logits(qn, negatives, t)
            loss = torch.logaddexp(pos, lse_neg) - pos
        else:
            loss = pos - pos  # nothing to contrast yet: zero, still attached to the graph
        out = D.globalize_loss(loss.mean(), loss.shape[0], self.group)
        self.queue.enqueue(kn)
        return out


class NNCLR(QueuedLoss):
    """NNCLR (Dwibedi et al. 2021, "With a Little Help from My Friends: Nearest-Neighbor
    Contrastive Learning of Visual Representations"): the positive of view 1 is its nearest
    neighbour in a support set (a FIFO queue of past embeddings), contrasted with the predictor
    outputs of view 2 of the global batch, ``-log e^{nn(z1_i).p2_i/t} / sum_k e^{nn(z1_i).p2_k/t}``,
    symmetrised. The support set ``self.support`` (a :class:`FeatureQueue`) is updated with
    the normalised ``z1`` of every rank of ``group`` after the loss.

    ``forward(prediction, target)``: predictions ``p`` and projections ``z`` (the targets,
    whose nearest neighbours are looked up), each ``(batch, 2, dim)`` (or a pair of ``(batch,
    dim)`` views).
    """

    bank = "support"
    support: FeatureQueue
    support_size: int

    def __init__(self, dim: int, support_size: int = 98304, temperature: float = 0.1, group=None):
        super().__init__(dim, support_size, temperature, group)

    @torch.no_grad()
    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest support embedding of each (normalised) row; ``z`` itself while empty."""
        s = self.support.read()
        if s.shape[0] == 0:
            return z.detach()
        return s[(z @ s.t()).argmax(dim=1)]

    def forward(self, prediction, target) -> torch.Tensor:
        pn, zn = _normalize(as_views(prediction)), _normalize(as_views(target))
        if pn.shape != zn.shape or pn.shape[1] != 2:
            raise ValueError(
                "NNCLR takes (prediction, target), each (batch, 2, dim), got "
                f"{tuple(pn.shape)} and {tuple(zn.shape)}"
            )
        t = self.temperature
        total = 0.0
        for a, b in ((0, 1), (1, 0)):
            nn_a = self.nearest(zn[:, a])
            keys = D.gather(pn[:, b], self.group)
            lse = logsumexp_logits(nn_a, keys, t)
            pos = (nn_a * pn[:, b]).sum(-1) / t
            total = total + (lse - pos).mean() / 2
        out = D.globalize_loss(total, zn.shape[0], self.group)
        self.support.enqueue(zn[:, 0])
        return out


class MetricLoss(Collective, nn.Module):
    """A pytorch-metric-learning loss (and optional miner) on sslkit's inputs: a thin wrapper,
    the losses themselves are PML's (e.g. ``losses.ContrastiveLoss`` with a hard-negative
    ``miners.BatchHardMiner`` for CoLES, Babaev et al. 2022; ``losses.TripletMarginLoss``).

    ``forward(view_a, view_b=None, *, labels=None)``: two ``(batch, dim)`` views or ``view_a``
    ``(batch, views, dim)`` (each row's views share a label; rows differ unless ``labels``
    says otherwise), or ``view_a`` ``(batch, dim)`` alone with ``labels`` (keyword). Embeddings
    and labels are gathered from the ranks of ``group`` and the loss is computed on the global
    batch (identical on every rank), so the miner sees global hard negatives.
    """

    distributed_kind = "gather"

    def __init__(self, loss=None, miner=None, group=None):
        super().__init__()
        from pytorch_metric_learning import losses

        self.loss = loss if loss is not None else losses.ContrastiveLoss()
        self.miner = miner
        self.group = group

    def forward(
        self,
        view_a: torch.Tensor,
        view_b: torch.Tensor | None = None,
        *,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        g = self.group
        z = view_a if view_b is None and view_a.dim() == 2 else as_views(view_a, view_b)
        if z.dim() == 3:
            b, v, d = z.shape
            if labels is None:
                _, start = D.gather_with_offset(z[:, 0, :1].detach(), g)
                labels = start + torch.arange(b, device=z.device)
            labels = labels.repeat_interleave(v)
            z = z.reshape(b * v, d)
        elif labels is None:
            raise ValueError("(batch, dim) embeddings need labels")
        emb, lab = D.gather(z, g), D.gather(labels, g)
        pairs = self.miner(emb, lab) if self.miner is not None else None
        return self.loss(emb, lab, pairs)
