"""What the event methods share: the ``embed`` and declared encoder of a sequence encoder, and
the check that histories are long enough (views of batches are in ``sslkit.events.augment``)."""

from __future__ import annotations

from typing import Any

import torch

from sslkit.core.engine.method import Method
from sslkit.events.encoders import SequenceEmbedder, SequenceEncoder, embedder_spec


class EventsMethod(Method):
    """A method whose embedding is its sequence encoder's pooled output; the encoder it declares
    (``embedder``) is that encoder on the batch dict, rebuilt from the arguments it was built
    with (``encoder_spec``)."""

    def __init__(self, encoder: SequenceEncoder):
        super().__init__()
        self.encoder = encoder
        self.embed_dim = encoder.out_dim

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(inputs["cats"], inputs["nums"], inputs["mask"])

    def embedder(self, space: str | None = None) -> SequenceEmbedder:
        return SequenceEmbedder(self.encoder)

    def encoder_spec(self, space: str | None = None) -> dict[str, Any]:
        return embedder_spec(self.encoder)


def check_lengths(data: Any, min_len: int, what: str) -> None:
    """One clear error when no pretraining entity has ``min_len`` events."""
    from sslkit.core.errors import DataError

    lengths = data.lengths("train")
    if len(lengths) == 0 or int(lengths.max()) < min_len:
        longest = int(lengths.max()) if len(lengths) else 0
        raise DataError(
            f"no entity has at least {min_len} events ({what}); the longest history has {longest}",
            hint=f"lower {what.split('=')[0]} or give longer histories",
        )
