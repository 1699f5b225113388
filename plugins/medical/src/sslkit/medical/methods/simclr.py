"""SimCLR on 2-D or 3-D medical images: Chen, Kornblith, Norouzi, Hinton, "A Simple Framework
for Contrastive Learning of Visual Representations" (ICML 2020).

Two views of each image are made in the DataLoader workers with MONAI random transforms
(:class:`~sslkit.medical.augment.ContrastViews`: random scaled crop resized back, flips,
rotation, intensity shift and scale, Gaussian noise: the 3-D analogue of the paper's crop,
flip and colour distortion, as used by 3-D SimCLR studies such as Taleb et al., "3D
Self-Supervised Methods for Medical Imaging", NeurIPS 2020). The encoder (MONAI ResNet by
default) embeds both, a 2-layer MLP projects them, and core's NT-Xent
(:class:`~sslkit.core.objectives.InfoNCE`, negatives gathered from every rank) contrasts them.
"""

from __future__ import annotations

from typing import Any

from sslkit.core.nn import MLPHead
from sslkit.core.objectives import InfoNCE
from sslkit.medical.augment import ContrastViews
from sslkit.medical.configs import SimCLRConfig
from sslkit.medical.methods.base import MedicalMethod


class MedicalSimCLR(MedicalMethod):
    matryoshka = True

    def __init__(self, cfg: SimCLRConfig, info: dict[str, Any]):
        super().__init__(cfg, info, "simclr")
        self.head = self.nested_heads(
            lambda m: MLPHead(m, cfg.proj_hidden, cfg.proj_dim, num_layers=2, batchnorm=False)
        )
        self.loss = InfoNCE(temperature=cfg.temperature)

    def train_transform(self) -> ContrastViews:
        c = self.cfg
        return ContrastViews(self.size, c.crop_scale, c.rotate, c.intensity, c.noise)

    def training_step(self, batch: Any, step: int):
        (views,) = batch  # (batch, 2, channels, *size)
        b, v = views.shape[:2]
        z = self.encoder(views.flatten(0, 1)).reshape(b, v, -1)

        def contrast(z, m: int):
            return self.loss(self.head.at(m)(z))

        return {"loss": self.nested(z, contrast)}


def build(cfg: SimCLRConfig, data: Any) -> MedicalSimCLR:
    return MedicalSimCLR(cfg, data.info)
