"""Context prediction: Hu, Liu, Gomes, Zitnik, Liang, Pande, Leskovec, "Strategies for
Pre-training Graph Neural Networks" (ICLR 2020); snap-stanford/pretrain-gnns
``chem/pretrain_contextpred.py`` (CBOW mode), ``chem/util.py``
(``ExtractSubstructureContextPair``), ``chem/batch.py`` (``BatchSubstructContext``).

In the DataLoader workers :class:`~sslkit.molecules.augment.SubstructContext` draws a centre
atom per molecule and cuts its ``k``-hop substructure (``k = num_layers``, 5) and its context
(atoms more than ``l1 = k - 1`` and at most ``l2 = l1 + csize`` bonds away: 5 to 7); a molecule
without context is left out of the batch. The exported GIN (``model_substruct``) embeds the
substructure and its centre atom's representation is the substructure's; a second GIN of
``csize`` layers (``model_context``, training only) embeds the context, and the mean of its
anchor atoms (context atoms within ``k`` bonds of the centre) is the context's (CBOW). The
score is the dot product; the negatives are the batch's contexts shifted by ``1 ..
neg_samples`` (``cycle_index``); the loss ``BCE(pos, 1) + neg_samples * BCE(neg, 0)``, each
averaged, in double precision as the authors compute it. The authors: batch 256, Adam lr 1e-3
for both GINs, no weight decay, dropout 0, 100 epochs on ZINC-2M; negatives come from the
local batch (one GPU; here each rank's batch).

Matryoshka is refused: the loss reads an atom representation, not the molecule embedding.
Not built: the skip-gram mode (the paper's CBOW is its default).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sslkit.core.errors import ConfigError
from sslkit.molecules.augment import SubstructContext
from sslkit.molecules.configs import ContextPredConfig
from sslkit.molecules.encoders import MoleculeGNN, gnn_options, pool
from sslkit.molecules.methods.base import MoleculeMethod


def cycle_index(num: int, shift: int) -> Tensor:
    """Hu et al.'s ``cycle_index``: ``arange(num)`` rotated by ``shift``."""
    arr = torch.arange(num) + shift
    arr[-shift:] = torch.arange(shift)
    return arr


def contextpred_loss(sub: Tensor, ctx: Tensor, neg_samples: int) -> tuple[Tensor, Tensor]:
    """The CBOW loss of centre representations ``sub`` and context representations ``ctx``
    (one row per molecule), and the balanced accuracy of the scores' signs."""
    negatives = torch.cat(
        [ctx[cycle_index(len(ctx), i + 1).to(ctx.device)] for i in range(neg_samples)]
    )
    pos = (sub * ctx).sum(dim=1).double()
    neg = (sub.repeat((neg_samples, 1)) * negatives).sum(dim=1).double()
    loss = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
    loss = loss + neg_samples * F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
    acc = 0.5 * ((pos > 0).double().mean() + (neg < 0).double().mean())
    return loss.float(), acc.float()


class ContextPred(MoleculeMethod):
    matryoshka = "the loss scores a centre atom's representation, not the molecule embedding"

    def __init__(self, cfg: ContextPredConfig, info: dict[str, Any]):
        super().__init__(cfg, info)
        self.context = MoleculeGNN(**gnn_options(cfg, info, num_layers=int(cfg.csize)))

    def train_transform(self) -> SubstructContext:
        k = int(self.cfg.num_layers)
        return SubstructContext(k, k - 1, k - 1 + int(self.cfg.csize))

    def training_step(self, batch: Any, step: int):
        sub, ctx = batch
        if int(ctx.num_nodes) == 0:  # no molecule of the batch has a context: nothing to learn
            zero = sum(p.sum() for p in self.parameters()) * 0.0
            return {"loss": zero}
        centre = self.encoder.atoms(sub)[sub.center_substruct_index]
        h = self.context(ctx.x, ctx.edge_index, ctx.edge_attr)
        overlap = ctx.overlap_context_index
        owner = ctx.batch[overlap]
        counts = torch.bincount(owner, minlength=int(ctx.num_graphs))
        context = pool(h[overlap], owner, counts, self.cfg.context_pooling)
        loss, acc = contextpred_loss(centre, context, int(self.cfg.neg_samples))
        return {"loss": loss, "acc": acc}


def build(cfg: ContextPredConfig, data: Any) -> ContextPred:
    if cfg.csize < 1 or cfg.neg_samples < 1:
        raise ConfigError(
            f"method.csize={cfg.csize} and method.neg_samples={cfg.neg_samples} must be at least 1"
        )
    return ContextPred(cfg, data.info)
