"""Frame-level k-means targets of HuBERT: the features they cluster (39-d MFCCs at the encoder's
frame rate, or a hidden layer of a previous iteration's encoder) and the k-means itself
(faiss on a sample of the training frames, features standardised first)."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.speech.encoders import SpeechEncoder
from sslkit.speech.frontend import MFCC, frame_count, mfcc39


def align(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``x`` (B, T, ...) cut or zero-padded to ``frames`` along T."""
    if x.shape[1] >= frames:
        return x[:, :frames]
    pad = [0, 0] * (x.dim() - 2) + [0, frames - x.shape[1]]
    return F.pad(x, pad)


class MFCCFeatures(nn.Module):
    """HuBERT iteration 1: 13 MFCCs + deltas + delta-deltas (39-d), 10 ms frames averaged over
    each encoder frame (``(B, T', 39)`` at the encoder's frame rate) and their valid mask."""

    def __init__(self, sample_rate: int, frame_hop: int):
        super().__init__()
        self.hop = max(1, round(160 * sample_rate / 16000))
        self.pool = max(1, frame_hop // self.hop)
        self.mfcc = MFCC(
            sample_rate, n_mfcc=13, n_mels=40, n_fft=2 * self.hop + self.hop // 2, hop=self.hop
        )

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, lengths: torch.Tensor):
        x = mfcc39(self.mfcc, wave.float())  # (B, T, 39)
        x = F.avg_pool1d(x.transpose(1, 2), self.pool, self.pool).transpose(1, 2)
        n = torch.div(frame_count(lengths, self.hop), self.pool, rounding_mode="floor")
        valid = torch.arange(x.shape[1], device=x.device)[None] < n.clamp_min(1)[:, None]
        return x, valid


class LayerFeatures(nn.Module):
    """HuBERT iteration >= 2: hidden state ``layer`` of a frozen previous-iteration encoder."""

    def __init__(self, encoder: SpeechEncoder, layer: int):
        super().__init__()
        self.encoder = copy.deepcopy(encoder).eval().requires_grad_(False)
        self.layer = int(layer)

    def train(self, mode: bool = True):  # the teacher stays in eval mode (no dropout)
        return super().train(False)

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, lengths: torch.Tensor):
        hidden, valid = self.encoder(wave, lengths)
        return hidden[self.layer].float(), valid


class KMeansTargets(nn.Module):
    """Cluster ids of ``features`` frames: nearest of ``centroids`` after standardisation
    (buffers, saved with the method)."""

    def __init__(self, features: nn.Module, clusters: int, dim: int):
        super().__init__()
        self.features = features
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("centroids", torch.zeros(clusters, dim))

    @torch.no_grad()
    def fit(self, waves: list[np.ndarray], max_frames: int, seed: int, batch: int = 32) -> dict:
        """Fit the standardisation and the k-means on up to ``max_frames`` frames of ``waves``
        (a seeded sample of them when there are more)."""
        import faiss

        from sslkit.speech.data import pad_waves

        feats = []
        for start in range(0, len(waves), batch):
            inputs = pad_waves(waves[start : start + batch])
            x, valid = self.features(inputs["wave"], inputs["lengths"])
            feats.append(x[valid].cpu().numpy())
        x = np.concatenate(feats).astype(np.float32)
        rng = np.random.default_rng(seed)
        if len(x) > max_frames:
            x = x[np.sort(rng.choice(len(x), max_frames, replace=False))]
        mean, std = x.mean(0), x.std(0) + 1e-5
        z = np.ascontiguousarray((x - mean) / std, dtype=np.float32)
        k = min(self.centroids.shape[0], len(z))
        km = faiss.Kmeans(z.shape[1], k, niter=25, seed=int(seed) + 1, verbose=False)
        km.train(z)
        centroids = np.zeros(tuple(self.centroids.shape), dtype=np.float32)
        centroids[:k] = km.centroids
        if k < len(centroids):  # fewer frames than clusters: the rest can never be nearest
            centroids[k:] = 1e6
        self.mean.copy_(torch.from_numpy(mean))
        self.std.copy_(torch.from_numpy(std))
        self.centroids.copy_(torch.from_numpy(centroids))
        return {"kmeans_frames": len(z), "clusters": int(k)}

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, lengths: torch.Tensor, frames: int) -> torch.Tensor:
        """Cluster ids ``(B, frames)``, -100 (ignored) on frames without signal."""
        x, valid = self.features(wave, lengths)
        z = (x - self.mean) / self.std
        c = self.centroids
        ids = (2 * z @ c.T - (c * c).sum(1)).argmax(-1)
        ids = ids.masked_fill(~valid, -100)
        if frames <= ids.shape[1]:
            return ids[:, :frames]
        return F.pad(ids, (0, frames - ids.shape[1]), value=-100)
