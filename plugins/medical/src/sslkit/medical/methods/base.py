"""What the medical methods share: the encoder they declare and export.

Every method embeds an image with a :class:`~sslkit.medical.encoders.MedicalEncoder` built
from its config's :class:`~sslkit.medical.configs.EncoderOptions` and the data's ``info``
(spatial dims, channels, size); ``embedder()`` is that module, so an export holds the MONAI
network and nothing of the method's heads or decoders, and ``encoder_spec()`` is the spec it
recorded.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sslkit.core.engine.method import Method
from sslkit.core.errors import ConfigError
from sslkit.medical.encoders import build_encoder


class MedicalMethod(Method):
    """Base of the medical methods: ``self.encoder`` (the exported embedder), ``self.cfg`` and
    the data's ``info``."""

    needs: tuple[str, ...] = ()
    """Encoder architectures the method works with (empty: any)."""

    def __init__(self, cfg: Any, info: dict[str, Any], name: str):
        super().__init__()
        if self.needs and cfg.arch not in self.needs:
            raise ConfigError(f"method.arch = {cfg.arch!r}: {name} needs {' or '.join(self.needs)}")
        self.cfg = cfg
        self.info = {k: info[k] for k in ("spatial_dims", "in_channels", "size")}
        self.size = tuple(int(s) for s in info["size"])
        self.encoder = build_encoder(cfg, info)
        self.embed_dim = int(self.encoder.out_dim)

    def embedder(self, space: str | None = None) -> nn.Module:
        return self.encoder
