"""SSL objectives: plain ``torch.nn.Module`` losses on tensors, modality-agnostic.

Each objective names its paper in its docstring and declares ``distributed_kind``:
``"gather"`` (negatives gathered from all ranks), ``"reduce"`` (statistics all-reduced) or
``"local"``. Every objective with collectives takes ``group=`` (None: the world group when
torch.distributed is initialised, else local; a ``new_group`` sub-group otherwise) and runs
them over that group whenever it has more than one rank.

One calling convention: multi-view losses take two ``(batch, dim)`` views ``(view_a,
view_b)`` (lightly's order) or one ``(batch, views, dim)`` tensor, with the same result;
losses with a prediction and a target take ``(prediction, target)``; labels, masks and
``step=`` are keywords. Schedules take the optimizer step from the caller (``DINOLoss(...,
step=)``); no objective counts its calls. See ``docs/objectives.md`` for the table.
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
from sslkit.core.objectives.queue import FeatureQueue
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
    "FeatureQueue",
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
