"""Attribute masking: Hu, Liu, Gomes, Zitnik, Liang, Pande, Leskovec, "Strategies for
Pre-training Graph Neural Networks" (ICLR 2020); snap-stanford/pretrain-gnns
``chem/pretrain_masking.py``.

In each molecule ``int(n * mask_rate + 1)`` atoms are masked in the DataLoader workers
(:class:`~sslkit.molecules.augment.MaskAtoms`: atom type 119, chirality 0 for Hu's features);
the GIN embeds the masked molecule and a linear head (``hidden_dim -> 119``) predicts each
masked atom's type from its representation; the loss is the cross-entropy averaged over the
masked atoms of the (global) batch. The authors' defaults: mask rate 0.15, no bond masking
(``mask_edge=0``), batch 256, Adam lr 1e-3, no weight decay, dropout 0, 100 epochs on ZINC-2M.

Matryoshka is refused: the loss reads atom representations, not the molecule embedding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.core.objectives import MaskedPrediction
from sslkit.molecules.configs import AttrMaskConfig
from sslkit.molecules.methods.base import MaskedAtomMethod


class AttrMask(MaskedAtomMethod):
    def __init__(self, cfg: AttrMaskConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.head = nn.Linear(self.encoder.gnn.out_dim, int(info["atom_types"]))
        self.loss = MaskedPrediction()

    def training_step(self, batch: Any, step: int):
        h = self.encoder.atoms(batch)
        logits = self.head(h[batch.masked_atom_index])
        target = batch.mask_label
        loss = self.loss(logits.unsqueeze(0), target.unsqueeze(0))
        with torch.no_grad():
            acc = (logits.argmax(-1) == target).float().mean()
        return {"loss": loss, "atom_acc": acc}


def build(cfg: AttrMaskConfig, data: Any) -> AttrMask:
    return AttrMask(cfg, data.info)
