"""T-JEPA: Thimonier, Melo, Mestre, Alaa et al., "T-JEPA: Augmentation-Free Self-Supervised
Learning for Tabular Data", ICLR 2025 (reference code: github.com/jose-melo/t-jepa).

Per batch, a context size and a target size are drawn (shares of the features between
``min_*_share`` and ``max_*_share``); for every row a random context subset and ``n_targets``
target subsets are drawn (disjoint from the context unless ``allow_overlap``).

- The context encoder (FT-Transformer) sees only the context features' tokens, plus
  ``n_reg_tokens`` regularisation tokens, learned tokens appended to every encoder input, which
  the paper introduces to keep the JEPA from collapsing on tables.
- The target encoder is an EMA of the context encoder (:class:`sslkit.core.nn.EMATeacher`,
  momentum ``ema_start`` -> ``ema_end``); it sees the whole row and its output tokens at the
  target features are the regression targets.
- The predictor (a narrow Transformer, ``pred_dim``) reads the context tokens and a mask token
  (plus a feature-position embedding) for every target feature and predicts the target tokens.
- Loss: L2 (mean squared error) in latent space, averaged over targets.

The embedding of a row is the target encoder's output tokens flattened (the input the
reference code gives its downstream models: every output token, the regularisation tokens
included unless ``embed_reg_tokens = false``), or its feature tokens averaged (``pooling =
"mean"``). Matryoshka (``method.matryoshka_dims``, applied by core): a size ``m`` counts
coordinates of each token (at most ``d_token``, the method's ``nested_width``): the latent loss
goes through ``Method.nested`` and is also taken on the first ``m`` coordinates of every token,
and the flattened embedding is laid out coordinate-major, so its first ``m x T`` values (``T``
tokens) are exactly those prefixes (the exported ``nested_dims``). The encoder a T-JEPA export holds (``embedder``) is the
target encoder and this readout, :class:`TokenEmbedder`.

With an MLP or ResNet encoder (no tokens), an extension of the paper's idea: the encoder reads
the row with only the context features visible (the others zeroed, visibility bits appended);
the target is the EMA encoder's vector of the row with only the target subset visible; an MLP
predictor reads the context vector and the target subset's indicator. The embedding, and the
encoder an export holds, is the target encoder with every feature visible.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.engine.method import Method
from sslkit.core.nn import EMATeacher
from sslkit.tabular.configs import TJEPAConfig
from sslkit.tabular.encoders import (
    FTTransformer,
    TransformerStack,
    build_vector_encoder,
    encoder_options,
    options_from,
    vector_encoder_spec,
)
from sslkit.tabular.methods.base import batch_size_of, device_of, n_features


def subset_sizes(
    cfg: TJEPAConfig, n: int, generator: torch.Generator | None = None
) -> tuple[int, int]:
    """Context and target sizes for one batch (as the reference MaskCollator)."""

    def draw(lo: float, hi: float) -> int:
        a, b = max(1, round(n * lo)), max(1, round(n * hi))
        a, b = min(a, b), max(a, b)
        return int(torch.randint(a, b + 1, (1,), generator=generator).item())

    for _ in range(100):
        n_ctx = draw(cfg.min_context_share, cfg.max_context_share)
        n_tgt = draw(cfg.min_target_share, cfg.max_target_share)
        if cfg.allow_overlap or n_ctx + n_tgt <= n:
            return min(n_ctx, n), min(n_tgt, n)
    n_ctx = max(1, n // 2)
    return n_ctx, max(1, n - n_ctx) if not cfg.allow_overlap else n_ctx


def sample_subsets(
    batch: int,
    n: int,
    n_ctx: int,
    n_tgt: int,
    n_targets: int,
    allow_overlap: bool,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``context (B, n_ctx)`` and ``targets (n_targets, B, n_tgt)`` feature indices per row."""
    perm = torch.rand(batch, n, device=device).argsort(dim=1)
    context = perm[:, :n_ctx]
    pool = perm if allow_overlap else perm[:, n_ctx:]
    targets = []
    for _ in range(n_targets):
        pick = torch.rand(batch, pool.shape[1], device=device).argsort(dim=1)[:, :n_tgt]
        targets.append(torch.gather(pool, 1, pick))
    return context, torch.stack(targets)


def _gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class Predictor(nn.Module):
    """I-JEPA-style predictor: context tokens + mask tokens at target positions -> targets."""

    def __init__(self, n: int, d: int, cfg: TJEPAConfig):
        super().__init__()
        heads = cfg.pred_heads if cfg.pred_dim % cfg.pred_heads == 0 else 1
        self.embed = nn.Linear(d, cfg.pred_dim)
        # learned feature-position embeddings (columns have no order, unlike image patches)
        self.pos = nn.Parameter(torch.zeros(1, n, cfg.pred_dim))
        self.reg_pos = nn.Parameter(torch.zeros(1, max(cfg.n_reg_tokens, 1), cfg.pred_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.pred_dim))
        self.stack = TransformerStack(
            cfg.pred_dim, cfg.pred_layers, heads, 2 * cfg.pred_dim, cfg.dropout
        )
        self.out = nn.Linear(cfg.pred_dim, d)
        self.n_reg = cfg.n_reg_tokens
        for p in (self.pos, self.reg_pos, self.mask_token):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(
        self, z: torch.Tensor, context: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """``z (B, R + n_ctx, d)``, ``context (B, n_ctx)``, ``targets (K, B, n_tgt)`` ->
        predictions ``(K * B, n_tgt, d)``."""
        k, b, n_tgt = targets.shape
        pos = self.pos.expand(b, -1, -1)
        x = self.embed(z)
        ctx_pos = _gather_tokens(pos, context)
        if self.n_reg:
            ctx_pos = torch.cat([self.reg_pos[:, : self.n_reg].expand(b, -1, -1), ctx_pos], dim=1)
        x = (x + ctx_pos).repeat(k, 1, 1)
        tgt_pos = _gather_tokens(pos.repeat(k, 1, 1), targets.reshape(k * b, n_tgt))
        queries = self.mask_token + tgt_pos
        h = self.stack(torch.cat([x, queries], dim=1))
        return self.out(h[:, -n_tgt:])


class TokenEmbedder(nn.Module):
    """The embedding of a row from an FT-Transformer's output tokens ``(B, R + F, d)`` (``R``
    regularisation tokens first): the feature tokens averaged (``pooling = "mean"``), or every
    token flattened coordinate-major (the regularisation tokens left out unless
    ``embed_reg_tokens``; see the module docstring)."""

    def __init__(
        self, encoder: FTTransformer, n_reg_tokens: int, pooling: str, embed_reg_tokens: bool
    ):
        super().__init__()
        self.encoder = encoder
        self.n_reg_tokens, self.pooling = int(n_reg_tokens), pooling
        self.embed_reg_tokens = bool(embed_reg_tokens)
        self.training = encoder.training

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.encoder(inputs)  # (B, R + F, d): regularisation tokens first
        if self.pooling == "mean":
            return h[:, self.n_reg_tokens :].mean(dim=1)
        if not self.embed_reg_tokens:
            h = h[:, self.n_reg_tokens :]
        return h.transpose(1, 2).reshape(h.shape[0], -1)  # coordinate-major: see module doc


def token_embedder(
    n_num: int,
    cardinalities: list[int],
    options: dict[str, Any],
    n_reg_tokens: int,
    pooling: str,
    embed_reg_tokens: bool,
) -> TokenEmbedder:
    """A fresh :class:`TokenEmbedder` from the kwargs of ``TJEPA.encoder_spec()`` (what
    ``sslkit.core.export.load_encoder`` calls)."""
    cfg = options_from(options)
    encoder = FTTransformer(int(n_num), [int(c) for c in cardinalities], cfg, int(n_reg_tokens))
    return TokenEmbedder(encoder, n_reg_tokens, pooling, embed_reg_tokens)


class _JEPAMethod(Method):
    """What both T-JEPA encoders share: ``n`` features, the feature subsets drawn per step, the
    EMA ``target`` encoder updated after each step, and the latent loss through
    :meth:`~sslkit.core.engine.method.Method.nested` (core trains Matryoshka sizes)."""

    matryoshka = True
    target: EMATeacher

    def __init__(self, cfg: TJEPAConfig, info: dict[str, Any]):
        super().__init__()
        self.cfg = cfg
        self.n = n_features(info)

    def draw_subsets(self, batch: dict[str, torch.Tensor]):
        """``(b, device, n_ctx, n_tgt, context, targets)``: the batch's size and device, and
        the context and target feature subsets of this step."""
        b, dev = batch_size_of(batch), device_of(batch)
        n_ctx, n_tgt = subset_sizes(self.cfg, self.n)
        context, targets = sample_subsets(
            b, self.n, n_ctx, n_tgt, self.cfg.n_targets, self.cfg.allow_overlap, dev
        )
        return b, dev, n_ctx, n_tgt, context, targets

    def on_train_step_end(self, step: int, total_steps: int) -> None:
        self.target.update(step, total_steps, self.encoder)


class TJEPA(_JEPAMethod):
    """T-JEPA with an FT-Transformer encoder (Thimonier et al., ICLR 2025)."""

    def __init__(self, cfg: TJEPAConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        cards = [int(c) for c in info["cardinalities"]]
        self.data_sizes = {"n_num": int(info["n_num"]), "cardinalities": cards}
        self.encoder = FTTransformer(
            info["n_num"], list(info["cardinalities"]), cfg, cfg.n_reg_tokens
        )
        self.target = EMATeacher(self.encoder, cfg.ema_start, cfg.ema_end)
        self.predictor = Predictor(self.n, cfg.d_token, cfg)
        # tokens in a flattened embedding: the features, and the regularisation tokens too
        self.n_embed_tokens = self.n + (cfg.n_reg_tokens if cfg.embed_reg_tokens else 0)
        if cfg.pooling == "flatten":
            self.embed_dim = cfg.d_token * self.n_embed_tokens
        else:
            self.embed_dim = cfg.d_token

    def nested_width(self) -> int:
        """Matryoshka sizes count coordinates of each token (see the module docstring)."""
        return int(self.cfg.d_token)

    def nested_export_dims(self, sizes: tuple[int, ...]) -> tuple[int, ...]:
        """The first ``m x T`` values of the flattened embedding are every token's first ``m``."""
        if self.cfg.pooling == "flatten":
            return tuple(m * self.n_embed_tokens for m in sizes)
        return tuple(sizes)

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        _, _, n_ctx, n_tgt, context, targets = self.draw_subsets(batch)
        with torch.no_grad():
            h = self.target(batch)[:, self.cfg.n_reg_tokens :]  # (B, F, d)
            h_tgt = _gather_tokens(h.repeat(len(targets), 1, 1), targets.reshape(-1, n_tgt))
        z = self.encoder(batch, keep=context)
        pred = self.predictor(z, context, targets)
        loss = self.nested((pred, h_tgt), latent_l2)
        return {"loss": loss, "context": float(n_ctx), "target": float(n_tgt)}

    def tokens(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The target encoder's feature tokens ``(B, F, d)``."""
        return self.target.module(inputs)[:, self.cfg.n_reg_tokens :]

    def embedder(self, space: str | None = None) -> TokenEmbedder:
        """The target (EMA) encoder and the readout: ``embed`` is this module's output."""
        c = self.cfg
        return TokenEmbedder(self.target.module, c.n_reg_tokens, c.pooling, c.embed_reg_tokens)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        c = self.cfg
        return {
            "build": "sslkit.tabular.methods.tjepa:token_embedder",
            "kwargs": {
                **self.data_sizes,
                "options": encoder_options(c),
                "n_reg_tokens": c.n_reg_tokens,
                "pooling": c.pooling,
                "embed_reg_tokens": c.embed_reg_tokens,
            },
        }


def latent_l2(pair: tuple[torch.Tensor, torch.Tensor], m: int) -> torch.Tensor:
    """Mean squared error in latent space of ``(prediction, target)`` (their first ``m``
    coordinates: ``Method.nested`` averages it over the Matryoshka sizes)."""
    return F.mse_loss(pair[0], pair[1])


class VectorTJEPA(_JEPAMethod):
    """T-JEPA's objective with an MLP or ResNet encoder (see the module docstring)."""

    def __init__(self, cfg: TJEPAConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.encoder = build_vector_encoder(info, cfg, visibility=True)
        self.spec = vector_encoder_spec(info, cfg, visibility=True)
        self.target = EMATeacher(self.encoder, cfg.ema_start, cfg.ema_end)
        d = cfg.out_dim
        self.predictor = nn.Sequential(
            nn.Linear(d + self.n, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, d)
        )
        self.embed_dim = d

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        b, dev, _, _, context, targets = self.draw_subsets(batch)
        eye = torch.zeros(b, self.n, dtype=torch.bool, device=dev)
        ctx_vis = eye.scatter(1, context, True)
        z = self.encoder(batch, ctx_vis)
        losses = []
        for tgt in targets:
            tgt_vis = eye.scatter(1, tgt, True)
            with torch.no_grad():
                h = self.target.module(batch, tgt_vis)
            pred = self.predictor(torch.cat([z, tgt_vis.to(z.dtype)], dim=1))
            losses.append(self.nested((pred, h), latent_l2))
        return {"loss": torch.stack(losses).mean()}

    def embedder(self, space: str | None = None) -> nn.Module:
        """The target (EMA) encoder, every feature visible: ``embed`` is its output."""
        return self.target.module

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        return self.spec


def build(cfg: TJEPAConfig, data: Any) -> Method:
    if cfg.encoder == "ft_transformer":
        return TJEPA(cfg, data.info)
    return VectorTJEPA(cfg, data.info)
