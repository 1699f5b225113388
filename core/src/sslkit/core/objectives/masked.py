"""Masked-modeling objectives and target makers.

- ``MaskedReconstruction``: MAE pixel/feature reconstruction at masked positions.
- ``LatentPrediction``: data2vec / JEPA regression of EMA-teacher targets (average of the
  teacher's top-k layers) at masked positions.
- ``MaskedPrediction``: HuBERT-style cross-entropy on discrete targets at masked positions.
- ``BestRQQuantizer``, ``RandomProjectors``: frozen random target makers.

Losses are means over masked positions of the global batch (each rank's count differs), so
they are ``"reduce"``: the value is all-reduced over the ranks of ``group`` (None: the world)
and gradients follow the DDP convention. Every loss takes ``(prediction, target, mask)`` in
that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core import distributed as D
from sslkit.core.objectives._base import Collective
from sslkit.core.objectives._kernel import upcast

__all__ = [
    "BestRQQuantizer",
    "LatentPrediction",
    "MaskedPrediction",
    "MaskedReconstruction",
    "RandomProjectors",
    "average_top_layers",
]


def _masked_mean(per_pos: torch.Tensor, mask: torch.Tensor | None, group=None) -> torch.Tensor:
    """Mean of ``per_pos`` ``(batch, tokens)`` over ``mask`` (all if None), global over the
    ranks of ``group``."""
    if mask is None:
        mask = torch.ones_like(per_pos, dtype=torch.bool)
    m = mask.to(per_pos.dtype)
    n = m.sum()
    local = (per_pos * m).sum() / n.clamp_min(1)
    return D.globalize_loss(local, n, group)


class MaskedReconstruction(Collective, nn.Module):
    """MAE (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners"):
    ``mean over masked tokens of mean_p (pred - target)^2``; with ``norm_targets`` each target
    token is standardised by its own mean and (unbiased) variance, ``(x - mu) / sqrt(var +
    1e-6)``, the paper's "normalized pixels".

    ``forward(pred, target, mask)``, ``(prediction, target)`` first: ``(batch, tokens,
    patch_dim)`` twice and a boolean ``(batch, tokens)`` mask, True where the token was masked
    (None: every token).
    """

    distributed_kind = "reduce"

    def __init__(self, norm_targets: bool = False, eps: float = 1e-6, group=None):
        super().__init__()
        self.norm_targets = norm_targets
        self.eps = eps
        self.group = group

    def forward(self, pred, target, mask=None):
        pred, target = upcast(pred), upcast(target.detach())
        if self.norm_targets:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + self.eps).sqrt()
        return _masked_mean((pred - target).pow(2).mean(-1), mask, self.group)


def average_top_layers(
    layers: Sequence[torch.Tensor] | torch.Tensor,
    top_k: int | None = None,
    norm: str | None = "layer",
) -> torch.Tensor:
    """data2vec targets (Baevski et al. 2022): mean of the last ``top_k`` teacher layers
    ``(batch, tokens, dim)``, each normalised first: ``"layer"`` (per token over channels, no
    affine), ``"instance"`` (per channel over tokens, as data2vec for speech) or None."""
    ls = list(layers) if not isinstance(layers, torch.Tensor) else list(layers.unbind(0))
    if top_k is not None:
        ls = ls[-top_k:]
    out = []
    for x in ls:
        x = upcast(x.detach())
        if norm == "layer":
            x = F.layer_norm(x, x.shape[-1:])
        elif norm == "instance":
            x = F.instance_norm(x.transpose(1, 2)).transpose(1, 2)
        elif norm is not None:
            raise ValueError(f"norm must be 'layer', 'instance' or None, got {norm!r}")
        out.append(x)
    return torch.stack(out).mean(0)


class LatentPrediction(Collective, nn.Module):
    """Latent prediction of teacher targets at masked positions: data2vec (Baevski et al. 2022,
    "data2vec: A General Framework for Self-supervised Learning in Speech, Vision and
    Language"; targets = average of the teacher's top-``top_k`` normalised layers) and JEPA
    (Assran et al. 2023, "Self-Supervised Learning from Images with a Joint-Embedding
    Predictive Architecture"; ``top_k=1``, ``target_norm="layer"``).

    ``forward(pred, teacher_layers, mask)``, ``(prediction, target)`` first: predictions
    ``(batch, tokens, dim)``; the teacher's
    hidden states as a list / stacked tensor of ``(batch, tokens, dim)`` (or one tensor
    ``(batch, tokens, dim)`` as the target itself); boolean mask, True = predicted position.
    ``loss``: ``"mse"`` (sum over dim / dim, i.e. mean) or ``"smooth_l1"`` with ``beta``.
    """

    distributed_kind = "reduce"

    def __init__(
        self,
        top_k: int | None = 8,
        target_norm: str | None = "layer",
        loss: str = "mse",
        beta: float = 1.0,
        group=None,
    ):
        super().__init__()
        if loss not in ("mse", "smooth_l1"):
            raise ValueError("loss must be 'mse' or 'smooth_l1'")
        self.top_k, self.target_norm, self.loss, self.beta = top_k, target_norm, loss, beta
        self.group = group

    def forward(self, pred, teacher_layers, mask=None):
        pred = upcast(pred)
        if isinstance(teacher_layers, torch.Tensor) and teacher_layers.dim() == pred.dim():
            target = upcast(teacher_layers.detach())
        else:
            target = average_top_layers(teacher_layers, self.top_k, self.target_norm)
        if self.loss == "mse":
            per = (pred - target).pow(2).mean(-1)
        else:
            per = F.smooth_l1_loss(pred, target, reduction="none", beta=self.beta).mean(-1)
        return _masked_mean(per, mask, self.group)


class MaskedPrediction(Collective, nn.Module):
    """HuBERT masked prediction (Hsu et al. 2021, "HuBERT: Self-Supervised Speech Representation
    Learning by Masked Prediction of Hidden Units"): cross-entropy of ``logits`` against discrete
    ``targets`` (k-means ids, BEST-RQ codes) over masked positions, plus ``unmasked_weight``
    times the same over unmasked ones (the paper's alpha; 0 by default).

    ``forward(logits, targets, mask)``, ``(prediction, target)`` first: ``(batch, tokens,
    classes)``, ``(batch, tokens)`` long, boolean ``(batch, tokens)``. Targets equal to
    ``ignore_index`` are skipped.
    """

    distributed_kind = "reduce"

    def __init__(self, unmasked_weight: float = 0.0, ignore_index: int = -100, group=None):
        super().__init__()
        self.unmasked_weight = unmasked_weight
        self.ignore_index = ignore_index
        self.group = group

    def forward(self, logits, targets, mask=None):
        logits = upcast(logits)
        with torch.autocast(logits.device.type, enabled=False):
            ce = F.cross_entropy(
                logits.flatten(0, 1),
                targets.flatten().clamp_min(0),
                reduction="none",
            ).view(targets.shape)
        valid = targets != self.ignore_index
        if mask is None:
            mask = torch.ones_like(targets, dtype=torch.bool)
        loss = _masked_mean(ce, mask & valid, self.group)
        if self.unmasked_weight:
            loss = loss + self.unmasked_weight * _masked_mean(ce, ~mask & valid, self.group)
        return loss


class BestRQQuantizer(nn.Module):
    """BEST-RQ random-projection quantizer (Chiu et al. 2022, "Self-supervised Learning with
    Random-projection Quantizer for Speech Recognition"): features are standardised per frame,
    projected by a frozen Xavier-initialised matrix to ``code_dim``, and labelled by the nearest
    (L2-normalised) entry of a frozen standard-normal codebook. Nothing here is trained.

    ``forward(x)``: ``(..., in_dim)`` -> long ``(...)`` code ids in ``[0, codebook_size)``.
    """

    def __init__(
        self,
        in_dim: int,
        codebook_size: int = 8192,
        code_dim: int = 16,
        num_codebooks: int = 1,
        seed: int = 0,
    ):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        proj = torch.empty(num_codebooks, in_dim, code_dim)
        bound = (6.0 / (in_dim + code_dim)) ** 0.5
        proj.uniform_(-bound, bound, generator=g)
        codes = F.normalize(
            torch.randn(num_codebooks, codebook_size, code_dim, generator=g), dim=-1
        )
        self.register_buffer("projection", proj)
        self.register_buffer("codebook", codes)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(upcast(x), x.shape[-1:])
        y = F.normalize(torch.einsum("...i,cij->...cj", x, self.projection), dim=-1)
        ids = torch.einsum("...cj,ckj->...ck", y, self.codebook).argmax(-1)
        return ids.squeeze(-1) if ids.shape[-1] == 1 else ids


class RandomProjectors(nn.Module):
    """Frozen random data projectors as regression targets (Sui et al. 2024, "Self-Supervised
    Representation Learning from Random Data Projectors"): ``num`` randomly initialised MLPs
    (never trained) map the raw input to ``out_dim``; the model predicts each projection (e.g.
    with ``LatentPrediction(top_k=None, target_norm="layer")`` per projector).

    ``forward(x)``: ``(..., in_dim)`` -> ``(num, ..., out_dim)``, without gradient.
    """

    def __init__(
        self, in_dim: int, out_dim: int, num: int = 4, hidden_dim: int | None = None, seed: int = 0
    ):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        h = hidden_dim or max(out_dim, in_dim)

        def lin(a: int, b: int) -> nn.Linear:
            layer = nn.Linear(a, b)
            bound = (6.0 / (a + b)) ** 0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=g)
                layer.bias.zero_()
            return layer

        self.projectors = nn.ModuleList(
            nn.Sequential(lin(in_dim, h), nn.ReLU(), lin(h, out_dim)) for _ in range(num)
        )
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = upcast(x).reshape(-1, shape[-1])
        return torch.stack([p(flat).reshape(*shape[:-1], -1) for p in self.projectors])
