"""GraphMAE, chemistry variant: Hou, Liu, Cen, Dong, Yang, Wang, Tang, "GraphMAE:
Self-Supervised Masked Graph Autoencoders" (KDD 2022); THUDM/GraphMAE ``chem/pretraining.py``,
``chem/model.py`` (``GNNDecoder``).

Atoms are masked as Hu et al.'s attribute masking does (``int(n * 0.25 + 1)`` atoms a molecule,
features set to the masked atom, in the DataLoader workers). The GIN encodes the masked
molecule; the decoder applies ``PReLU``, ``enc_to_dec = Linear(d, d, bias=False)``, **re-masks**
the masked atoms (their representation set to zero) and one GIN layer with the same bond
embeddings scheme (``Linear(d, 2d), ReLU, Linear(2d, 119)``, sum aggregation, self-loops) to
119 outputs. The loss is the scaled cosine error between the masked atoms' outputs and the
one-hot of their atom type: ``mean((1 - cos(onehot, out)) ** alpha)``, alpha 1. The authors:
batch 256, Adam lr 1e-3 for the encoder and the decoder, no weight decay, 100 epochs on ZINC-2M.

Matryoshka is refused: the loss reads atom representations, not the molecule embedding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.molecules.configs import GraphMAEConfig
from sslkit.molecules.encoders import EdgeGINConv
from sslkit.molecules.methods.base import MaskedAtomMethod


def sce_loss(target: Tensor, pred: Tensor, alpha: float = 1.0) -> Tensor:
    """GraphMAE's scaled cosine error: ``mean((1 - cos(target, pred)) ** alpha)``."""
    x = F.normalize(target, p=2, dim=-1)
    y = F.normalize(pred, p=2, dim=-1)
    return (1 - (x * y).sum(dim=-1)).pow(alpha).mean()


class Decoder(nn.Module):
    """GraphMAE chem's ``GNNDecoder`` (gin)."""

    def __init__(self, dim: int, out_dim: int, info: dict[str, Any]):
        super().__init__()
        self.activation = nn.PReLU()
        self.enc_to_dec = nn.Linear(dim, dim, bias=False)
        self.conv = EdgeGINConv(dim, info["bond_vocab"], info["self_loop"], out_dim=out_dim)

    def forward(self, h: Tensor, batch: Any, masked: Tensor) -> Tensor:
        x = self.enc_to_dec(self.activation(h))
        keep = torch.ones(x.size(0), 1, dtype=x.dtype, device=x.device)
        keep[masked] = 0  # re-mask: the masked atoms' representations are zero
        return self.conv(x * keep, batch.edge_index, batch.edge_attr)


class GraphMAE(MaskedAtomMethod):
    def __init__(self, cfg: GraphMAEConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.classes = int(info["atom_types"])
        self.decoder = Decoder(self.encoder.gnn.out_dim, self.classes, info)

    def training_step(self, batch: Any, step: int):
        h = self.encoder.atoms(batch)
        masked = batch.masked_atom_index
        out = self.decoder(h, batch, masked)[masked]
        target = F.one_hot(batch.mask_label, self.classes).to(out.dtype)
        loss = sce_loss(target, out, self.cfg.alpha)
        with torch.no_grad():
            acc = (out.argmax(-1) == batch.mask_label).float().mean()
        return {"loss": loss, "atom_acc": acc}


def build(cfg: GraphMAEConfig, data: Any) -> GraphMAE:
    return GraphMAE(cfg, data.info)
