"""Building blocks shared by SSL methods: heads, EMA teacher, masking, pooling."""

from sslkit.core.nn.ema import EMATeacher, cosine_momentum
from sslkit.core.nn.heads import MLPHead

__all__ = ["EMATeacher", "MLPHead", "cosine_momentum"]
