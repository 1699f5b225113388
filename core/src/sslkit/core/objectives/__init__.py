"""SSL objectives: plain ``torch.nn.Module`` losses on tensors, modality-agnostic.

Each objective names its paper in its docstring and declares ``distributed_kind``:
``"gather"`` (negatives gathered from all ranks), ``"reduce"`` (statistics all-reduced) or
``"local"``. Collectives are applied automatically whenever ``world_size > 1``.
"""

from sslkit.core.objectives.contrastive import (
    DCL,
    DCLW,
    NNCLR,
    AMInfoNCE,
    DebiasedInfoNCE,
    InfoNCE,
    MoCoQueue,
    SupCon,
)
from sslkit.core.objectives.monitors import alignment, embedding_std, rankme, uniformity

__all__ = [
    "DCL",
    "DCLW",
    "NNCLR",
    "AMInfoNCE",
    "DebiasedInfoNCE",
    "InfoNCE",
    "MoCoQueue",
    "SupCon",
    "alignment",
    "embedding_std",
    "rankme",
    "uniformity",
]
