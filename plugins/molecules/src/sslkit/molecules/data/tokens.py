"""SMILES and SELFIES tokenisers and the token vocabulary of the ``mlm`` method.

- SMILES: the atom-level regular expression of Schwaller et al. 2019 ("Molecular Transformer:
  A Model for Uncertainty-Calibrated Chemical Reaction Prediction", pschwllr/MolecularTransformer
  README): a bracket atom (``[C@@H]``, ``[NH3+]``) is one token, ``Br`` and ``Cl`` are one
  token, a ring closure is a digit or ``%nn``, and each bond, branch and dot is its own token.
  One addition: any other character is a token of its own (the pattern ends with ``.``), so the
  tokens always join back to the SMILES; such a token is ``[unk]`` unless the vocabulary saw it.
- SELFIES (Krenn et al. 2020; the ``selfies`` package, as SELFormer, Yüksel et al. 2023):
  ``selfies.encoder(smiles, strict=False)`` (molecules past the default valence constraints
  are encoded too) split with ``selfies.split_selfies``. A SMILES the package cannot encode
  (a dummy atom ``*``) becomes ``[unk]`` alone and is counted.

Molecules are tokenised from their RDKit canonical SMILES (``MoleculeSet.smiles``), so one
molecule has one token sequence however its file wrote it. A sequence is ``[cls]`` (RoBERTa's
``<s>``), the tokens, ``[eos]`` (``</s>``); one longer than ``max_length`` keeps its first
``max_length - 2`` tokens and its ``[eos]``, and is counted as truncated.

The vocabulary (:class:`Tokeniser`) is fitted on the molecules pretraining reads: the five
special tokens, then every token seen, most frequent first (ties in string order). It is
saved with the run (``data_state.json``), so evaluate and export tokenise with it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

SMILES_PATTERN = (
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$"
    r"|\%[0-9]{2}|[0-9]|.)"
)
"""Schwaller et al.'s ``SMI_REGEX_PATTERN``, and ``.`` last: any other character alone."""
_SMILES_RE = re.compile(SMILES_PATTERN)

PAD, UNK, CLS, EOS, MASK = "[pad]", "[unk]", "[cls]", "[eos]", "[mask]"
SPECIALS = (PAD, UNK, CLS, EOS, MASK)
"""Ids 0-4: padding, unknown, start (RoBERTa's ``<s>``), end (``</s>``), mask."""
KINDS = ("selfies", "smiles")


def smiles_tokens(smiles: str) -> list[str]:
    """Schwaller et al.'s atom-level tokens of ``smiles`` (they join back to it)."""
    return _SMILES_RE.findall(smiles)


def selfies_tokens(smiles: str) -> list[str] | None:
    """The SELFIES symbols of ``smiles`` (``selfies.encoder(strict=False)``); None when the
    package cannot encode it."""
    import selfies as sf

    try:
        return list(sf.split_selfies(sf.encoder(smiles, strict=False)))
    except sf.EncoderError:
        return None


def tokens_of(smiles: str, kind: str) -> list[str] | None:
    if kind == "smiles":
        return smiles_tokens(smiles)
    if kind == "selfies":
        return selfies_tokens(smiles)
    raise ValueError(f"unknown token kind {kind!r}; choose one of: {', '.join(KINDS)}")


class Tokeniser:
    """Token ids of molecules: ``kind`` (selfies or smiles), the vocabulary (specials first)
    and ``max_length`` (``[cls]`` and ``[eos]`` included)."""

    def __init__(self, kind: str, vocab: Sequence[str], max_length: int):
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}; choose one of: {', '.join(KINDS)}")
        if tuple(vocab[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with the special tokens {SPECIALS}")
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, not {max_length}")
        self.kind, self.vocab, self.max_length = kind, list(vocab), int(max_length)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.eos_id, self.mask_id = range(len(SPECIALS))

    @classmethod
    def fit(cls, smiles: Sequence[str], kind: str, max_length: int) -> Tokeniser:
        """The vocabulary of ``smiles``' tokens, most frequent first (ties in string order)."""
        counts: Counter[str] = Counter()
        for s in smiles:
            counts.update(tokens_of(s, kind) or ())
        for special in SPECIALS:
            counts.pop(special, None)
        ordered = sorted(counts, key=lambda t: (-counts[t], t))
        return cls(kind, [*SPECIALS, *ordered], max_length)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, smiles: Sequence[str]) -> tuple[list[np.ndarray], dict[str, int]]:
        """One int64 id array per molecule and the counts: ``truncated`` (longer than
        ``max_length``), ``unencodable`` (SELFIES failed: ``[unk]`` alone), ``unknown_tokens``
        (tokens outside the vocabulary)."""
        out, truncated, failed, unknown = [], 0, 0, 0
        body = self.max_length - 2
        for s in smiles:
            tokens = tokens_of(s, self.kind)
            if tokens is None:
                failed += 1
                tokens = [UNK]
            ids = [self.index.get(t, self.unk_id) for t in tokens]
            unknown += sum(t not in self.index for t in tokens)
            if len(ids) > body:
                truncated += 1
                ids = ids[:body]
            out.append(np.asarray([self.cls_id, *ids, self.eos_id], dtype=np.int64))
        return out, {"truncated": truncated, "unencodable": failed, "unknown_tokens": unknown}

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_length": self.max_length, "vocab": list(self.vocab)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Tokeniser:
        return cls(str(state["kind"]), list(state["vocab"]), int(state["max_length"]))


def pad(sequences: Sequence[Any], value: int) -> Any:
    """``(batch, longest)`` int64 tensor of 1-d sequences, right-padded with ``value``."""
    import torch

    longest = max(len(s) for s in sequences)
    out = torch.full((len(sequences), longest), int(value), dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out
