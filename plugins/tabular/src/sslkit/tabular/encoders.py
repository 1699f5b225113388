"""Tabular backbones of Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data"
(NeurIPS 2021): the FT-Transformer (feature tokenizer + Transformer), an MLP and a ResNet.

All three read the batch dict ``{"num": (B, n_num) float, "cat": (B, n_cat) long}``.

- :class:`FeatureTokenizer` turns each feature into a ``d_token`` vector (numeric: ``x_j w_j +
  b_j``; categorical: an embedding per column). A ``keep`` index subset selects the tokens of a
  feature subset (T-JEPA's context), and ``mask`` replaces features by a learned mask token.
- :class:`FTTransformer` runs Transformer blocks (pre-norm) over the feature tokens plus
  optional extra tokens (T-JEPA's regularisation tokens) and returns tokens ``(B, T, d)``.
- :class:`MLPEncoder` and :class:`ResNetEncoder` read the flat row (numeric values and
  categorical embeddings concatenated) and return a vector ``(B, out_dim)``.

:func:`build_encoder` builds the encoder an :class:`~sslkit.tabular.configs.EncoderOptions`
(the base of every method's config) describes. :func:`vector_encoder_spec` is the encoder spec
of a vector encoder (``Method.encoder_spec``): :func:`vector_encoder` builds it again from the
model card of an export alone.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import torch
from torch import nn

from sslkit.tabular.configs import EncoderOptions


def _batch_size(inputs: dict[str, torch.Tensor]) -> int:
    return next(iter(inputs.values())).shape[0]


class PeriodicEmbedding(nn.Module):
    """PLR numeric embeddings of Gorishniy, Rubachev & Babenko, "On Embeddings for Numerical
    Features in Tabular Deep Learning" (NeurIPS 2022): ``x_j -> ReLU(W_j [cos(2 pi c_j x_j),
    sin(2 pi c_j x_j)] + b_j)`` with ``k`` learned frequencies ``c_j ~ N(0, sigma^2)`` per
    feature. Returns ``(B, n, d)``."""

    def __init__(self, n: int, k: int, sigma: float, d: int):
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n, k) * sigma)
        self.weight = nn.Parameter(torch.empty(n, 2 * k, d))
        self.bias = nn.Parameter(torch.empty(n, d))
        bound = 1 / math.sqrt(2 * k)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = 2 * math.pi * self.frequencies * x.unsqueeze(-1)
        v = torch.cat([torch.cos(v), torch.sin(v)], dim=-1)
        return torch.relu(torch.einsum("bnk,nkd->bnd", v, self.weight) + self.bias)


def numeric_embedding(n_num: int, d: int, cfg: EncoderOptions | None) -> PeriodicEmbedding | None:
    """The periodic embedding when ``cfg.num_embedding`` asks for it (else the linear map)."""
    if cfg is None or cfg.num_embedding != "periodic" or not n_num:
        return None
    return PeriodicEmbedding(n_num, cfg.num_frequencies, cfg.frequency_sigma, d)


class FeatureTokenizer(nn.Module):
    """One token per feature: numeric ``x_j * W_j + b_j`` (or a periodic embedding + ``b_j``),
    categorical ``E_j[x_j] + b_j``."""

    def __init__(
        self,
        n_num: int,
        cardinalities: list[int],
        d_token: int,
        cfg: EncoderOptions | None = None,
        maskable: bool = False,
    ):
        super().__init__()
        self.n_num = n_num
        self.n_cat = len(cardinalities)
        self.n_features = n_num + self.n_cat
        self.d_token = d_token
        self.periodic = numeric_embedding(n_num, d_token, cfg)
        # the linear map only without the periodic embedding: an unused parameter breaks DDP
        linear = self.periodic is None
        self.num_weight = nn.Parameter(torch.empty(n_num, d_token)) if linear else None
        offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("cat_offsets", offsets, persistent=False)
        self.cat_embed = nn.Embedding(max(1, sum(cardinalities)), d_token)
        self.bias = nn.Parameter(torch.empty(self.n_features, d_token))
        # only when a method masks tokens: a parameter no step uses stalls DDP's gradient sync
        self.mask_token = nn.Parameter(torch.zeros(d_token)) if maskable else None
        bound = 1 / math.sqrt(d_token)
        for p in (self.num_weight, self.cat_embed.weight, self.bias):
            if p is not None:
                nn.init.uniform_(p, -bound, bound)
        if self.mask_token is not None:
            nn.init.normal_(self.mask_token, std=0.02)

    def forward(
        self, inputs: dict[str, torch.Tensor], mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Tokens ``(B, n_features, d)``; ``mask`` (B, n_features) bool replaces features by the
        mask token (VIME and SCARF corrupt values instead, so only the ablations use this)."""
        parts = []
        if self.n_num and self.periodic is not None:
            parts.append(self.periodic(inputs["num"]))
        elif self.n_num:
            parts.append(inputs["num"].unsqueeze(-1) * self.num_weight)
        if self.n_cat:
            parts.append(self.cat_embed(inputs["cat"] + self.cat_offsets))
        x = torch.cat(parts, dim=1) + self.bias
        if mask is not None:
            if self.mask_token is None:
                raise ValueError("this tokenizer was built without a mask token (maskable=True)")
            x = torch.where(mask.unsqueeze(-1), self.mask_token.to(x.dtype), x)
        return x


class Block(nn.Module):
    """Pre-norm Transformer block (FT-Transformer): attention, then a feed-forward network."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(
            nn.Linear(d, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, d)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        return x + self.drop(self.ffn(self.norm2(x)))


class TransformerStack(nn.Module):
    """Blocks followed by a final LayerNorm: tokens in, tokens out."""

    def __init__(self, d: int, layers: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, heads, ffn, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class FTTransformer(nn.Module):
    """Feature tokenizer + Transformer; ``forward`` returns tokens ``(B, extra + F, d)``.

    ``extra_tokens`` learned tokens (a [CLS] token, or T-JEPA's regularisation tokens) come
    first. ``keep`` (B, k) long selects the features the encoder sees (a context subset).
    """

    def __init__(
        self, n_num: int, cardinalities: list[int], cfg: EncoderOptions, extra_tokens: int = 0
    ):
        super().__init__()
        if cfg.d_token % cfg.n_heads:
            from sslkit.core.errors import ConfigError

            raise ConfigError(
                f"method.d_token = {cfg.d_token} must be a multiple of method.n_heads = {cfg.n_heads}"
            )
        self.tokenizer = FeatureTokenizer(n_num, cardinalities, cfg.d_token, cfg)
        self.n_features = self.tokenizer.n_features
        self.d_token = cfg.d_token
        self.extra_tokens = extra_tokens
        self.extra = nn.Parameter(torch.empty(1, extra_tokens, cfg.d_token))
        nn.init.normal_(self.extra, std=0.02)
        self.stack = TransformerStack(
            cfg.d_token, cfg.n_layers, cfg.n_heads, cfg.ffn_dim, cfg.dropout
        )

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        keep: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.tokenizer(inputs, mask)
        if keep is not None:
            x = torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        if self.extra_tokens:
            x = torch.cat([self.extra.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        return self.stack(x)


class _FlatInput(nn.Module):
    """The row as one vector: numeric values, then an embedding per categorical column."""

    def __init__(
        self,
        n_num: int,
        cardinalities: list[int],
        d_cat: int,
        visibility: bool = False,
        cfg: EncoderOptions | None = None,
    ):
        super().__init__()
        self.n_num = n_num
        self.embeds = nn.ModuleList(nn.Embedding(c, d_cat) for c in cardinalities)
        self.periodic = numeric_embedding(n_num, d_cat, cfg)
        self.visibility = visibility
        n_features = n_num + len(cardinalities)
        num_width = n_num * (d_cat if self.periodic is not None else 1)
        self.out_dim = num_width + d_cat * len(cardinalities) + (n_features if visibility else 0)

    def forward(
        self, inputs: dict[str, torch.Tensor], visible: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``visible`` (B, F) bool hides the other features (zeros) and is appended as input
        bits (only encoders built with ``visibility=True``, for T-JEPA's feature subsets)."""
        num = None  # (B, n_num, width): the values themselves, or their periodic embeddings
        if self.n_num:
            x = inputs["num"]
            num = self.periodic(x) if self.periodic is not None else x.unsqueeze(-1)
        cats = [emb(inputs["cat"][:, j]) for j, emb in enumerate(self.embeds)]
        if not self.visibility:
            return torch.cat(([num.flatten(1)] if num is not None else []) + cats, dim=1)
        n_features = self.n_num + len(self.embeds)
        if visible is None:
            ref = num if num is not None else cats[0]
            visible = torch.ones(ref.shape[0], n_features, dtype=torch.bool, device=ref.device)
        vis = visible.to(cats[0].dtype if cats else num.dtype)
        parts = [(num * vis[:, : self.n_num, None]).flatten(1)] if num is not None else []
        parts += [c * vis[:, self.n_num + j, None] for j, c in enumerate(cats)]
        return torch.cat([*parts, vis], dim=1)


class MLPEncoder(nn.Module):
    """MLP (Gorishniy et al. 2021): Linear -> ReLU -> Dropout blocks, then a linear output."""

    def __init__(
        self, n_num: int, cardinalities: list[int], cfg: EncoderOptions, visibility: bool = False
    ):
        super().__init__()
        d_cat = max(1, min(cfg.d_token, 16))
        self.inp = _FlatInput(n_num, cardinalities, d_cat, visibility, cfg)
        layers: list[nn.Module] = []
        width = self.inp.out_dim
        for _ in range(max(1, cfg.n_layers)):
            layers += [nn.Linear(width, cfg.hidden_dim), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = cfg.hidden_dim
        layers.append(nn.Linear(width, cfg.out_dim))
        self.net = nn.Sequential(*layers)
        self.out_dim = cfg.out_dim

    def forward(
        self, inputs: dict[str, torch.Tensor], visible: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.net(self.inp(inputs, visible))


class ResBlock(nn.Module):
    """ResNet block of Gorishniy et al.: x + Dropout(Linear(Dropout(ReLU(Linear(BN(x))))))."""

    def __init__(self, d: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm1d(d),
            nn.Linear(d, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, d),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class ResNetEncoder(nn.Module):
    """ResNet (Gorishniy et al. 2021): linear stem, residual blocks, BN -> ReLU -> Linear head."""

    def __init__(
        self, n_num: int, cardinalities: list[int], cfg: EncoderOptions, visibility: bool = False
    ):
        super().__init__()
        d_cat = max(1, min(cfg.d_token, 16))
        self.inp = _FlatInput(n_num, cardinalities, d_cat, visibility, cfg)
        self.stem = nn.Linear(self.inp.out_dim, cfg.hidden_dim)
        self.blocks = nn.Sequential(
            *(
                ResBlock(cfg.hidden_dim, 2 * cfg.hidden_dim, cfg.dropout)
                for _ in range(max(1, cfg.n_layers))
            )
        )
        self.head = nn.Sequential(
            nn.BatchNorm1d(cfg.hidden_dim), nn.ReLU(), nn.Linear(cfg.hidden_dim, cfg.out_dim)
        )
        self.out_dim = cfg.out_dim

    def forward(
        self, inputs: dict[str, torch.Tensor], visible: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head(self.blocks(self.stem(self.inp(inputs, visible))))


def build_encoder(
    cfg: EncoderOptions,
    info: dict[str, Any],
    *,
    visibility: bool = False,
    tokens: int | None = None,
) -> nn.Module:
    """The encoder ``cfg`` (an :class:`EncoderOptions`, usually a method's config) describes,
    sized by the data's ``info`` (``n_num``, ``cardinalities``).

    By default an encoder with a vector output ``(B, out_dim)``: :class:`MLPEncoder`,
    :class:`ResNetEncoder` (``visibility`` adds the visible-feature indicator to their input), or
    the FT-Transformer read out by its [CLS] token (:class:`CLSTransformer`; a projection to
    ``out_dim`` keeps the sizes of every encoder comparable). ``tokens=n`` asks for the
    :class:`FTTransformer` itself, with ``n`` extra tokens and the token output ``(B, T, d)``
    (T-JEPA's encoder).
    """
    n_num, cards = info["n_num"], list(info["cardinalities"])
    if tokens is not None:
        return FTTransformer(n_num, cards, cfg, tokens)
    if cfg.encoder == "mlp":
        return MLPEncoder(n_num, cards, cfg, visibility)
    if cfg.encoder == "resnet":
        return ResNetEncoder(n_num, cards, cfg, visibility)
    return CLSTransformer(n_num, cards, cfg)


def build_vector_encoder(
    info: dict[str, Any], cfg: EncoderOptions, visibility: bool = False
) -> nn.Module:
    """An encoder with a vector output ``(B, out_dim)``: ``build_encoder(cfg, info,
    visibility=visibility)``."""
    return build_encoder(cfg, info, visibility=visibility)


class CLSTransformer(nn.Module):
    """FT-Transformer read out by its [CLS] token (the original model's prediction input)."""

    def __init__(self, n_num: int, cardinalities: list[int], cfg: EncoderOptions):
        super().__init__()
        self.body = FTTransformer(n_num, cardinalities, cfg, extra_tokens=1)
        self.proj = nn.Linear(cfg.d_token, cfg.out_dim)
        self.out_dim = cfg.out_dim

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.proj(self.body(inputs)[:, 0])


def encoder_options(cfg: EncoderOptions) -> dict[str, Any]:
    """The :class:`EncoderOptions` fields of a method's config, as JSON (an encoder spec's
    ``options``; the method's other fields are not the encoder's)."""
    out = {}
    for f in fields(EncoderOptions):
        value = getattr(cfg, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def options_from(options: dict[str, Any]) -> EncoderOptions:
    """:class:`EncoderOptions` from :func:`encoder_options`' JSON."""
    known = {f.name for f in fields(EncoderOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown tabular encoder options {unknown}: a newer sslkit-tabular?")
    values = dict(options)
    if "matryoshka_dims" in values:
        values["matryoshka_dims"] = tuple(values["matryoshka_dims"])
    return EncoderOptions(**values)


def vector_encoder(
    n_num: int, cardinalities: list[int], options: dict[str, Any], visibility: bool = False
) -> nn.Module:
    """:func:`build_vector_encoder` from the kwargs of :func:`vector_encoder_spec` (what
    ``sslkit.core.export.load_encoder`` calls)."""
    info = {"n_num": int(n_num), "cardinalities": [int(c) for c in cardinalities]}
    return build_vector_encoder(info, options_from(options), visibility)


def vector_encoder_spec(
    info: dict[str, Any], cfg: EncoderOptions, visibility: bool = False
) -> dict[str, Any]:
    """The encoder spec of ``build_vector_encoder(info, cfg, visibility)``: the data's sizes
    (numeric features, categorical cardinalities) and the encoder options."""
    return {
        "build": "sslkit.tabular.encoders:vector_encoder",
        "kwargs": {
            "n_num": int(info["n_num"]),
            "cardinalities": [int(c) for c in info["cardinalities"]],
            "options": encoder_options(cfg),
            "visibility": bool(visibility),
        },
    }


def raw_width(info: dict[str, Any]) -> int:
    """Width of the raw feature vector (numeric + one-hot categorical)."""
    return int(info["n_num"]) + int(sum(info["cardinalities"]))
