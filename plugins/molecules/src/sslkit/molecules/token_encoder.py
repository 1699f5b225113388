"""The token encoder of the ``mlm`` method: a small RoBERTa-style Transformer over SMILES or
SELFIES tokens (SELFormer, Yüksel et al. 2023, is a RoBERTa over SELFIES).

:class:`TokenEmbedder`: token embedding plus a learned position embedding, LayerNorm and
dropout (RoBERTa's embeddings), then ``num_layers`` post-norm Transformer encoder layers
(``nn.TransformerEncoderLayer``: GELU, feed-forward ``ff_dim``, padding masked out of the
attention), as BERT and RoBERTa are built. ``tokens(inputs)`` gives the per-token states the
MLM head reads; ``forward(inputs)`` the molecule embedding: the **mean over the molecule's
tokens** (``[cls]`` and ``[eos]`` included, padding excluded). Not the ``[cls]`` state:
RoBERTa's MLM loss never reads it (special tokens are never masked), so without a sentence-level
objective or fine-tuning it carries no trained summary; every token's state is trained by the
loss, and their mean is what a frozen probe reads best. Inputs: ``{"tokens": (batch, length)
int64}``, ``[pad]`` (id ``pad_id``) after each molecule's last token; both axes are dynamic in
the ONNX export.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sslkit.core.nn import masked_mean, records_init


@records_init
class TokenEmbedder(nn.Module):
    """A molecule embedding from token ids (see the module's docstring)."""

    def __init__(
        self,
        vocab_size: int,
        pad_id: int = 0,
        hidden_dim: int = 256,
        num_layers: int = 4,
        heads: int = 4,
        ff_dim: int = 1024,
        dropout: float = 0.1,
        max_length: int = 128,
    ):
        super().__init__()
        if hidden_dim % heads:
            raise ValueError(f"hidden_dim={hidden_dim} must be a multiple of heads={heads}")
        self.pad_id, self.max_length, self.out_dim = int(pad_id), int(max_length), int(hidden_dim)
        self.embed = nn.Embedding(vocab_size, hidden_dim, padding_idx=pad_id)
        self.position = nn.Embedding(max_length, hidden_dim)
        for table in (self.embed, self.position):  # BERT's initialisation
            nn.init.normal_(table.weight, std=0.02)
        with torch.no_grad():
            self.embed.weight[pad_id].zero_()
        self.norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            hidden_dim, heads, dim_feedforward=ff_dim, dropout=dropout,
            activation="gelu", batch_first=True, norm_first=False,
        )  # fmt: skip
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def tokens(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Per-token states ``(batch, length, hidden_dim)`` and the valid-token mask."""
        ids = inputs["tokens"]
        valid = ids != self.pad_id
        length = ids.shape[1]
        h = self.embed(ids) + self.position.weight[:length].unsqueeze(0)
        h = self.dropout(self.norm(h))
        return self.layers(h, src_key_padding_mask=~valid), valid

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        h, valid = self.tokens(inputs)
        return masked_mean(h, valid)

    def set_dropout(self, p: float) -> None:
        """Every dropout of the encoder set to ``p`` (fine-tuning)."""
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = float(p)


def build_token_encoder(cfg: Any, vocab_size: int, pad_id: int) -> TokenEmbedder:
    """The :class:`TokenEmbedder` of an ``mlm`` config (``cfg``: :class:`~sslkit.molecules.
    configs.MLMConfig`) for a vocabulary of ``vocab_size`` tokens."""
    return TokenEmbedder(
        vocab_size=int(vocab_size),
        pad_id=int(pad_id),
        hidden_dim=int(cfg.hidden_dim),
        num_layers=int(cfg.num_layers),
        heads=int(cfg.heads),
        ff_dim=int(cfg.ff_dim),
        dropout=float(cfg.dropout),
        max_length=int(cfg.max_length),
    )
