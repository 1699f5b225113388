"""SSL objectives: plain ``torch.nn.Module`` losses on tensors, modality-agnostic.

Each objective names its paper in its docstring and declares ``distributed_kind``:
``"gather"`` (negatives gathered from all ranks), ``"reduce"`` (statistics all-reduced) or
``"local"``. Collectives are applied automatically whenever ``world_size > 1``.
See ``docs/objectives.md`` for the table of objectives.
"""

from sslkit.core.objectives.clustering import SwAVLoss, sinkhorn_knopp
from sslkit.core.objectives.contrastive import (
    DCL,
    DCLW,
    NNCLR,
    AMInfoNCE,
    DebiasedInfoNCE,
    InfoNCE,
    MetricLoss,
    MoCoQueue,
    SupCon,
)
from sslkit.core.objectives.distillation import DINOLoss, NegativeCosine
from sslkit.core.objectives.masked import (
    BestRQQuantizer,
    LatentPrediction,
    MaskedPrediction,
    MaskedReconstruction,
    RandomProjectors,
    average_top_layers,
)
from sslkit.core.objectives.matryoshka import Matryoshka
from sslkit.core.objectives.monitors import alignment, embedding_std, rankme, uniformity
from sslkit.core.objectives.redundancy import WMSE, BarlowTwins, VICReg

__all__ = [
    "DCL",
    "DCLW",
    "NNCLR",
    "WMSE",
    "AMInfoNCE",
    "BarlowTwins",
    "BestRQQuantizer",
    "DINOLoss",
    "DebiasedInfoNCE",
    "InfoNCE",
    "LatentPrediction",
    "MaskedPrediction",
    "MaskedReconstruction",
    "Matryoshka",
    "MetricLoss",
    "MoCoQueue",
    "NegativeCosine",
    "RandomProjectors",
    "SupCon",
    "SwAVLoss",
    "VICReg",
    "alignment",
    "average_top_layers",
    "embedding_std",
    "rankme",
    "sinkhorn_knopp",
    "uniformity",
]
