"""HuBERT (Hsu et al. 2021, "HuBERT: Self-Supervised Speech Representation Learning by Masked
Prediction of Hidden Units").

Frames of the front end are span-masked (the learned mask vector replaces them; fairseq's
mask_prob 0.8 with spans of 10 frames, ``mask_prob=0.08`` starts per frame here), the
Transformer predicts the k-means unit of every masked frame: the last layer is projected to
``final_dim`` and compared by cosine (divided by ``temperature`` 0.1) with one learned
embedding per unit, and the cross-entropy over masked frames (``MaskedPrediction``) is the
loss (``unmasked_weight``: the paper's alpha on unmasked frames, 0 as in the paper).

Iteration 1 clusters 39-d MFCCs (13 + deltas + delta-deltas, averaged to the encoder's frame
rate, standardised); ``targets_from=<run>`` clusters hidden state ``target_layer`` of that
run's encoder instead (iteration 2: ``--set method.targets_from=runs/it1``). The k-means
(faiss) is fitted when the method is built, on up to ``kmeans_frames`` frames of the training
audio; the units of each training crop are computed in the step, from the same crop.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.objectives import MaskedPrediction
from sslkit.speech.encoders import build_encoder, frame_hop
from sslkit.speech.methods.base import SpeechMethod, frame_mask
from sslkit.speech.methods.targets import KMeansTargets, LayerFeatures, MFCCFeatures


class HuBERT(SpeechMethod):
    def __init__(self, cfg: Any, info: dict[str, Any], targets: KMeansTargets):
        super().__init__(build_encoder(cfg, info, maskable=True), info["crop"])
        self.cfg = cfg
        self.targets = targets
        self.head = nn.Linear(cfg.dim, cfg.final_dim)
        self.units = nn.Parameter(torch.randn(cfg.clusters, cfg.final_dim) * cfg.final_dim**-0.5)
        self.loss = MaskedPrediction(unmasked_weight=cfg.unmasked_weight)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        p = F.normalize(self.head(h).float(), dim=-1)
        return p @ F.normalize(self.units.float(), dim=-1).T / self.cfg.temperature

    def training_step(self, batch: dict[str, torch.Tensor], step: int):
        wave, lengths = batch["wave"], batch["lengths"]
        x, valid = self.encoder.frames(wave, lengths)
        ids = self.targets(wave, lengths, x.shape[1])
        mask = frame_mask(valid, self.cfg.mask_prob, self.cfg.mask_span)
        hidden = self.encoder.transformer(x, valid, mask)
        logits = self.logits(hidden[-1])
        loss = self.loss(logits, ids, mask & valid)
        with torch.no_grad():
            hit = (logits.argmax(-1) == ids) & mask & (ids >= 0)
            acc = hit.sum() / (mask & (ids >= 0)).sum().clamp_min(1)
        return {"loss": loss, "masked_acc": acc.detach()}


def build(cfg: Any, data: Any) -> HuBERT:
    from sslkit.core.errors import ConfigError

    info = data.info
    if cfg.targets_from:
        from sslkit.core.runs import load_run

        previous = load_run(cfg.targets_from).method.encoder
        layer = cfg.target_layer if cfg.target_layer >= 0 else (previous.num_layers + 1) // 2
        if not 0 <= layer <= previous.num_layers:
            raise ConfigError(
                f"method.target_layer={cfg.target_layer} but the run {cfg.targets_from} has "
                f"hidden states 0..{previous.num_layers}"
            )
        features: nn.Module = LayerFeatures(previous, layer)
        dim = previous.dim
    else:
        sr = int(info["sample_rate"])
        features = MFCCFeatures(sr, frame_hop(cfg.frontend, cfg.subsample, sr))
        dim = 39
    targets = KMeansTargets(features, cfg.clusters, dim)
    train = [data.waves[i] for i in data.split_index("train")] or list(data.waves)
    targets.fit(train, cfg.kmeans_frames, seed=0)
    return HuBERT(cfg, info, targets)
