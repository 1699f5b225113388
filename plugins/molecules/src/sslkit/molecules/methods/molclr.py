"""MolCLR: Wang, Wang, Cao, Barati Farimani, "Molecular Contrastive Learning of
Representations via Graph Neural Networks" (Nature Machine Intelligence 2022);
yuyangw/MolCLR ``molclr.py``, ``models/ginet_molclr.py``, ``dataset/dataset_mix.py``.

Two views of each molecule are made in the DataLoader workers
(:class:`~sslkit.molecules.augment.MolCLRViews`: subgraph removal, atom masking and bond
deletion, 25% by default). The GIN (5 layers x 300, mean pooling) embeds both; MolCLR's
feature layer ``Linear(300, 512)`` and projection ``Linear(512, 512), ReLU, Linear(512,
256)`` map them to the space of the NT-Xent loss (temperature 0.1): for each of the 2N
embeddings the other view of its molecule is the positive and the other 2N - 2 the negatives
(core's :class:`~sslkit.core.objectives.InfoNCE` with two views, which gathers the negatives of
every rank). The authors train with batch 512, Adam lr 5e-4, weight decay 1e-5.

``method.embed``: ``pooled`` exports the pooled GIN output (300 wide, as attrmask), the
feature layer then belongs to the head; ``feature`` exports MolCLR's feature layer (512 wide,
what MolCLR fine-tunes). Matryoshka sizes are prefixes of the exported embedding, each with a
head of its own.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sslkit.core.objectives import InfoNCE
from sslkit.molecules.augment import MolCLRViews
from sslkit.molecules.configs import MolCLRConfig
from sslkit.molecules.methods.base import MoleculeMethod


class MolCLR(MoleculeMethod):
    matryoshka = True

    def __init__(self, cfg: MolCLRConfig, info: dict[str, Any]):
        feature = cfg.embed == "feature"
        super().__init__(cfg, info, out_dim=cfg.feat_dim if feature else 0)
        f = int(cfg.feat_dim)

        def head(m: int) -> nn.Module:
            project = [nn.Linear(f, f), nn.ReLU(inplace=True), nn.Linear(f, f // 2)]
            if feature:  # the feature layer is in the encoder: the head is MolCLR's out_lin
                return nn.Sequential(nn.Linear(m, f), *project[1:])
            return nn.Sequential(nn.Linear(m, f), *project)  # feat_lin, then out_lin

        self.head = self.nested_heads(head)
        self.loss = InfoNCE(temperature=cfg.temperature)

    def train_transform(self) -> MolCLRViews:
        c = self.cfg
        return MolCLRViews(c.augment, c.mask_rate, c.max_subgraph, self.info["mask_atom"])

    def training_step(self, batch: Any, step: int):
        first, second = batch

        def contrast(views: tuple, m: int):
            head = self.head.at(m)
            return self.loss(head(views[0]), head(views[1]))

        return {"loss": self.nested((self.encoder(first), self.encoder(second)), contrast)}


def build(cfg: MolCLRConfig, data: Any) -> MolCLR:
    return MolCLR(cfg, data.info)
