"""What the speech methods share: the encoder they declare (``embedder``/``encoder_spec``), the
crops of the training utterances, and span masks of the encoder frames."""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.engine.method import Method
from sslkit.core.nn import span_mask
from sslkit.speech.augment import Crops
from sslkit.speech.encoders import SpeechEmbedder, SpeechEncoder, embedder_spec


class SpeechMethod(Method):
    """A method whose embedding is its :class:`SpeechEncoder`'s mean-pooled average of layers;
    its views are random crops of ``info["crop"]`` samples made in the DataLoader workers."""

    def __init__(self, encoder: SpeechEncoder, crop: int):
        super().__init__()
        self.encoder = encoder
        self.crop = int(crop)
        self.embed_dim = encoder.dim

    def train_transform(self) -> Crops:
        return Crops(self.crop)

    def embedder(self, space: str | None = None) -> SpeechEmbedder:
        return SpeechEmbedder(self.encoder)

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return SpeechEmbedder(self.encoder)(inputs)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        return embedder_spec(self.encoder)

    def hidden_states(
        self, inputs: dict[str, torch.Tensor]
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every layer's hidden states and the valid frames (the SUPERB tasks read them)."""
        return self.encoder(inputs["wave"], inputs["lengths"])


def frame_mask(valid: torch.Tensor, mask_prob: float, span: int) -> torch.Tensor:
    """wav2vec 2.0 / HuBERT span masks of the encoder frames (True = masked), only on valid
    frames; drawn from torch's global generator (seeded per step by the engine)."""
    b, t = valid.shape
    mask = span_mask(b, t, mask_prob, span, device=valid.device)
    return mask & valid
