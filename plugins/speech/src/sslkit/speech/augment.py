"""Views of utterances, made per example in the DataLoader workers: random crops."""

from __future__ import annotations

import torch


class Crops:
    """``views`` random crops of one waveform, at most ``crop`` samples each.

    With ``fraction`` None a crop is ``crop`` samples (the whole utterance when it is shorter:
    the batch pads it, and the padding is masked); with a ``fraction`` each crop is
    ``fraction`` of the utterance (at most ``crop`` samples), so that two crops of a short
    utterance still differ (the speaker method's views). Returns ``(wave, length)``: ``(n,)``
    and a scalar for one view, ``(views, n)`` (zero-padded to the longest view) and
    ``(views,)`` for more.
    """

    def __init__(self, crop: int, views: int = 1, fraction: float | None = None):
        self.crop, self.views = int(crop), int(views)
        self.fraction = None if fraction is None else float(fraction)

    def __call__(self, wave: torch.Tensor, rng: torch.Generator):
        n = int(wave.shape[0])
        size = min(n, self.crop)
        if self.fraction is not None:
            size = max(1, min(self.crop, round(self.fraction * n)))
        starts = torch.randint(0, n - size + 1, (self.views,), generator=rng).tolist()
        crops = torch.stack([wave[s : s + size] for s in starts]).float()
        lengths = torch.full((self.views,), size, dtype=torch.long)
        if self.views == 1:
            return crops[0], lengths[0]
        return crops, lengths
