"""Building blocks shared by SSL methods: heads, EMA teacher, masking, pooling, encoder specs,
sparse products under autocast."""

from sslkit.core.nn.ema import EMATeacher, cosine_momentum
from sslkit.core.nn.heads import MLPHead
from sslkit.core.nn.masking import (
    block_mask,
    corrupt_features,
    gather_tokens,
    random_mask,
    span_mask,
    unmasked_indices,
)
from sslkit.core.nn.pooling import AttentionPool, LayerWeightedSum, masked_max, masked_mean
from sslkit.core.nn.sparse import csr_fast_path, sparse_mm
from sslkit.core.nn.spec import check_spec, recorded_spec, records_init
from sslkit.core.nn.tracing import tracing

__all__ = [
    "AttentionPool",
    "EMATeacher",
    "LayerWeightedSum",
    "MLPHead",
    "block_mask",
    "check_spec",
    "corrupt_features",
    "cosine_momentum",
    "csr_fast_path",
    "gather_tokens",
    "masked_max",
    "masked_mean",
    "random_mask",
    "recorded_spec",
    "records_init",
    "span_mask",
    "sparse_mm",
    "tracing",
    "unmasked_indices",
]
