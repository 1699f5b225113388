"""Masked language modelling over SMILES or SELFIES tokens: RoBERTa's MLM (Liu et al. 2019,
"RoBERTa: A Robustly Optimized BERT Pretraining Approach") as SELFormer (Yüksel, Ulusoy,
Ünlü, Doğan 2023, "SELFormer: molecular representation learning via SELFIES language
models", HUBioDataLab/SELFormer) trains it on SELFIES; ``method.tokens=smiles`` trains it on
Schwaller et al.'s SMILES tokens (ChemBERTa's setting; BARTSmiles, Chilingaryan et al. 2022,
is a BART denoiser on SMILES, not this objective).

The data switches to token inputs (:meth:`~sslkit.molecules.data.MoleculeSet.use_tokens`:
the vocabulary fitted on the molecules pretraining reads, saved with the run). In the
DataLoader workers :class:`~sslkit.molecules.augment.MaskTokens` draws RoBERTa's dynamic
masking: 15% of the non-special tokens chosen, 80% of them replaced by ``[mask]``, 10% by a
random token, 10% kept. The :class:`~sslkit.molecules.token_encoder.TokenEmbedder` (post-norm
Transformer) gives per-token states; RoBERTa's LM head (``Linear(d, d)``, GELU, LayerNorm,
then the token embedding matrix transposed plus a bias: tied weights) predicts the original
token at every chosen position, and the loss is the cross-entropy averaged over the chosen
tokens of the (global) batch (core's :class:`~sslkit.core.objectives.MaskedPrediction`).

What differs from SELFormer: the size (SELFormer: 12 layers x 768 on 2M ChEMBL molecules; here
4 x 256 by default, one pass over the embedded ZINC), its byte-level BPE tokeniser over SELFIES
(here one token a SELFIES symbol: a vocabulary of the symbols seen), and the random
replacement drawn from the non-special tokens (Hugging Face draws from the whole vocabulary).
Matryoshka is refused: the loss reads token states, not the molecule embedding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.core.engine.method import Method
from sslkit.core.errors import ConfigError
from sslkit.core.objectives import MaskedPrediction
from sslkit.molecules.augment import MaskTokens
from sslkit.molecules.configs import MLMConfig
from sslkit.molecules.data.tokens import SPECIALS, Tokeniser
from sslkit.molecules.token_encoder import build_token_encoder


class LMHead(nn.Module):
    """RoBERTa's ``RobertaLMHead``: dense, GELU, LayerNorm, then the (tied) token embedding
    matrix and a bias."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, h: Tensor, embedding: Tensor) -> Tensor:
        return F.linear(self.norm(F.gelu(self.dense(h))), embedding, self.bias)


class MLM(Method):
    matryoshka = (
        "the loss predicts masked tokens from token states, not from the molecule embedding"
    )

    def __init__(self, cfg: MLMConfig, tokeniser: Tokeniser):
        super().__init__()
        self.cfg = cfg
        self.mask_id, self.vocab_size = tokeniser.mask_id, len(tokeniser)
        self.encoder = build_token_encoder(cfg, len(tokeniser), tokeniser.pad_id)
        self.embed_dim = int(self.encoder.out_dim)
        self.head = LMHead(self.embed_dim, len(tokeniser))
        self.loss = MaskedPrediction()

    def embedder(self, space: str | None = None) -> nn.Module:
        return self.encoder

    def train_transform(self) -> MaskTokens:
        c = self.cfg
        return MaskTokens(
            c.mask_rate, c.replace_mask, c.replace_random, self.mask_id, len(SPECIALS),
            self.vocab_size,
        )  # fmt: skip

    def training_step(self, batch: dict[str, Tensor], step: int):
        h, _ = self.encoder.tokens({"tokens": batch["tokens"]})
        labels = batch["labels"]
        chosen = labels != -100
        logits = self.head(h[chosen], self.encoder.embed.weight)
        target = labels[chosen]
        loss = self.loss(logits.unsqueeze(0), target.unsqueeze(0))
        with torch.no_grad():
            acc = (logits.argmax(-1) == target).float().mean()
        return {"loss": loss, "token_acc": acc}


def build(cfg: MLMConfig, data: Any) -> MLM:
    if cfg.hidden_dim % cfg.heads:
        raise ConfigError(
            f"method.hidden_dim={cfg.hidden_dim} must be a multiple of method.heads={cfg.heads}"
        )
    if cfg.max_length < 3:
        raise ConfigError(f"method.max_length={cfg.max_length}: at least 3 ([cls], a token, [eos])")
    return MLM(cfg, data.use_tokens(cfg.tokens, cfg.max_length))
