"""What the molecule methods share: the encoder they declare and export.

Every method embeds a molecule with a :class:`~sslkit.molecules.encoders.MoleculeEmbedder`
built from its config's :class:`~sslkit.molecules.configs.EncoderOptions` and the data's
featuriser (``data.info``); ``embedder()`` is that module, so an export holds the GIN and its
readout and nothing of the method's heads, and ``encoder_spec()`` is the spec it recorded.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sslkit.core.engine.method import Method
from sslkit.molecules.encoders import build_encoder


class MoleculeMethod(Method):
    """Base of the molecule methods: ``self.encoder`` (the exported embedder), ``self.cfg``
    and the data's ``info`` (featuriser vocabularies, self-loop bond, masked atom)."""

    def __init__(self, cfg: Any, info: dict[str, Any], out_dim: int = 0):
        super().__init__()
        self.cfg = cfg
        self.info = {
            k: info[k] for k in ("atom_vocab", "bond_vocab", "self_loop", "mask_atom", "atom_types")
        }
        self.encoder = build_encoder(cfg, info, out_dim)
        self.embed_dim = int(self.encoder.out_dim)

    def embedder(self, space: str | None = None) -> nn.Module:
        return self.encoder


class MaskedAtomMethod(MoleculeMethod):
    """A method whose views are Hu et al.'s masked atoms (``cfg.mask_rate``) and whose loss
    reads the masked atoms' representations (attrmask, graphmae): no Matryoshka sizes."""

    matryoshka = (
        "the loss predicts masked atoms from atom representations, not from the molecule embedding"
    )

    def train_transform(self):
        from sslkit.molecules.augment import MaskAtoms

        return MaskAtoms(self.cfg.mask_rate, self.info["mask_atom"])
