"""Event sequence encoders: an event embedding, then a GRU or a Transformer, then pooling.

Inputs are the padded batches of :mod:`sslkit.events.data`: ``cats`` (B, T, C) codes, ``nums``
(B, T, F) scaled numeric and time fields, ``mask`` (B, T) True on real events (right padding).

:func:`build_encoder` builds the :class:`SequenceEncoder` an
:class:`~sslkit.events.configs.EncoderOptions` (the base of every method's config) describes.
:class:`SequenceEmbedder` is the encoder an export holds (``Method.embedder``): the sequence
encoder on the batch dict; :func:`sequence_embedder` builds it again from the
:class:`SequenceEncoder`'s arguments, which it records (its encoder spec).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sslkit.core.nn import masked_max, masked_mean, recorded_spec, records_init, tracing
from sslkit.events.configs import EncoderOptions


class _Lookup(nn.Embedding):
    """``nn.Embedding`` computed as an index_select: the same numbers and gradients at real
    codes; the ONNX exporter names an ``aten.embedding`` node "embedding", which collides with
    the exported graph's output name "embedding"."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.weight.index_select(0, idx.reshape(-1)).view(*idx.shape, self.embedding_dim)


class EventEmbedding(nn.Module):
    """One vector per event: an embedding per categorical field, concatenated with a linear
    projection of the numeric fields (which include the time encoding: the log gap to the
    previous event and the log time left to the reference time).

    ``num_masked`` (B, T, F) bool, optional, replaces masked numeric fields by a learned vector
    per field (masked field modeling); masked categorical values use each table's last code.
    """

    def __init__(
        self,
        cat_sizes: list[int],
        n_num: int,
        cat_dim: int = 16,
        num_dim: int = 16,
        maskable: bool = False,
    ):
        super().__init__()
        self.cat_sizes = list(cat_sizes)
        self.n_num = n_num
        self.cat = nn.ModuleList(_Lookup(v, cat_dim, padding_idx=0) for v in cat_sizes)
        self.num = nn.Linear(n_num, num_dim) if n_num else None
        # only for masked field modeling: a parameter no step uses stalls DDP's gradient sync
        self.num_mask = nn.Parameter(torch.zeros(n_num, num_dim)) if n_num and maskable else None
        self.out_dim = cat_dim * len(cat_sizes) + (num_dim if n_num else 0)
        if self.out_dim == 0:
            raise ValueError("events need at least one categorical or numeric field")

    def forward(
        self, cat: torch.Tensor, num: torch.Tensor, num_masked: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [emb(cat[..., i]) for i, emb in enumerate(self.cat)]
        if self.num is not None:
            if num_masked is None or self.num_mask is None:
                parts.append(self.num(num))
            else:
                m = num_masked.to(num.dtype)
                parts.append(self.num(num * (1 - m)) + m @ self.num_mask)
        return torch.cat(parts, dim=-1)


@records_init
class SequenceEncoder(nn.Module):
    """Event embedding -> GRU or Transformer -> one vector per entity.

    - GRU: ``pack = True`` runs it on packed sequences, so no compute goes to padding; the
      ``last`` pooling is the hidden state after each entity's last real event. Under ONNX
      export the padded path is used (same numbers: with right padding the state at the last
      real event does not depend on the padding).
    - Transformer: pre-norm encoder layers with a learned position embedding; ``causal = True``
      restricts attention to past events (for CPC).
    """

    def __init__(
        self,
        cat_sizes: list[int],
        n_num: int,
        *,
        encoder: str = "gru",
        hidden: int = 256,
        layers: int = 1,
        heads: int = 4,
        dropout: float = 0.0,
        cat_dim: int = 16,
        num_dim: int = 16,
        pool: str = "auto",
        pack: bool = True,
        max_positions: int = 1024,
        causal: bool = False,
        maskable: bool = False,
    ):
        super().__init__()
        self.kind = encoder
        self.hidden = hidden
        self.pack = pack
        self.causal = causal
        self.pool = pool if pool != "auto" else ("last" if encoder == "gru" else "mean")
        self.embedding = EventEmbedding(cat_sizes, n_num, cat_dim, num_dim, maskable)
        d_in = self.embedding.out_dim
        if encoder == "gru":
            self.rnn = nn.GRU(
                d_in, hidden, num_layers=layers, batch_first=True,
                dropout=dropout if layers > 1 else 0.0,
            )  # fmt: skip
        elif encoder == "transformer":
            if hidden % heads:
                raise ValueError(f"hidden={hidden} must be a multiple of heads={heads}")
            self.proj = nn.Linear(d_in, hidden)
            self.pos = nn.Embedding(max_positions, hidden)
            nn.init.normal_(self.pos.weight, std=0.02)
            layer = nn.TransformerEncoderLayer(
                hidden, heads, dim_feedforward=4 * hidden, dropout=dropout,
                batch_first=True, norm_first=True, activation="gelu",
            )  # fmt: skip
            self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(hidden)
            self.max_positions = max_positions
        else:
            raise ValueError(f"unknown encoder {encoder!r}; choose gru or transformer")

    @property
    def out_dim(self) -> int:
        return self.hidden

    # --- per-event outputs
    def contextualize(
        self, x: torch.Tensor, mask: torch.Tensor, need_outputs: bool = True
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Event vectors (B, T, D_in) -> per-event outputs (B, T, H) and, for a GRU run
        packed, the last hidden state (B, H). ``need_outputs = False`` lets a packed GRU skip
        unpacking the per-event outputs."""
        if self.kind == "gru":
            if self.pack and not tracing():
                lengths = mask.sum(1).clamp_min(1).cpu()
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                out, h = self.rnn(packed)
                if not need_outputs:
                    return None, h[-1]
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
                return out, h[-1]
            out, _ = self.rnn(x)
            return out, None
        t = x.shape[1]
        if t > self.max_positions:
            raise ValueError(f"sequence of {t} events > max_positions={self.max_positions}")
        h = self.proj(x) + self.pos.weight[:t].unsqueeze(0)
        attn_mask = None
        if self.causal:
            attn_mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), 1)
        out = self.transformer(h, mask=attn_mask, src_key_padding_mask=~mask)
        return self.norm(out), None

    def pool_outputs(
        self, out: torch.Tensor | None, mask: torch.Tensor, last: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.pool == "last":
            if last is not None:
                return last
            assert out is not None
            idx = (mask.sum(1) - 1).clamp_min(0)
            return out[torch.arange(out.shape[0], device=out.device), idx]
        if self.pool == "mean":
            return masked_mean(out, mask)
        return masked_max(out, mask)

    def forward(self, cat: torch.Tensor, num: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        need = not (self.kind == "gru" and self.pool == "last")
        out, last = self.contextualize(self.embedding(cat, num), mask, need_outputs=need)
        return self.pool_outputs(out, mask, last)


class SequenceEmbedder(nn.Module):
    """``encoder(inputs["cats"], inputs["nums"], inputs["mask"])``: a :class:`SequenceEncoder`
    on the batch dict, as ``embed`` reads it (the state_dict keys are ``encoder.*``)."""

    def __init__(self, encoder: SequenceEncoder):
        super().__init__()
        self.encoder = encoder
        self.training = encoder.training

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(inputs["cats"], inputs["nums"], inputs["mask"])


def sequence_embedder(**encoder_kwargs: Any) -> SequenceEmbedder:
    """A fresh :class:`SequenceEmbedder` around ``SequenceEncoder(**encoder_kwargs)`` (what
    ``sslkit.core.export.load_encoder`` calls with the kwargs of :func:`embedder_spec`)."""
    return SequenceEmbedder(SequenceEncoder(**encoder_kwargs))


def embedder_spec(encoder: SequenceEncoder) -> dict[str, Any]:
    """The encoder spec of ``SequenceEmbedder(encoder)``: the arguments ``encoder`` was built
    with (sizes from the data included)."""
    spec = recorded_spec(encoder)
    assert spec is not None, "a SequenceEncoder records its arguments"
    return {"build": "sslkit.events.encoders:sequence_embedder", "kwargs": spec["kwargs"]}


def build_encoder(
    config: EncoderOptions, info: dict[str, Any], *, causal: bool = False, maskable: bool = False
) -> SequenceEncoder:
    """The encoder a method's config asks for, sized by the data's ``info``; ``maskable``
    adds the learned vectors that replace masked numeric fields (masked event modeling)."""
    return SequenceEncoder(
        [int(v) for v in info["cat_sizes"]],
        len(info["num_fields"]),
        encoder=config.encoder,
        hidden=config.hidden,
        layers=config.layers,
        heads=config.heads,
        dropout=config.dropout,
        cat_dim=config.cat_dim,
        num_dim=config.num_dim,
        pool=config.pool,
        pack=config.pack,
        max_positions=max(int(info.get("max_len", 1024)), 16),
        causal=causal,
        maskable=maskable,
    )


def inputs_of(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return batch["cats"], batch["nums"], batch["mask"]
