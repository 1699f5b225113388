"""The SUPERB protocol on frozen features (Yang et al. 2021, "SUPERB: Speech processing
Universal PERformance Benchmark"; s3prl's Featurizer and UtteranceLevel head):
softmax-weighted sum of every layer (weights start at 0), ``Linear(D, 256)``, mean pooling over
valid frames, ``Linear(256, classes)``, cross-entropy, Adam, gradient clipping at 1, the
checkpoint best on the dev split tested.

Mean pooling commutes with the weighted sum and the two linear maps (no nonlinearity between
them in this head), so the head trains on per-layer mean-pooled features ``(layers, N, D)``
computed once: exactly the same model, without running the encoder every epoch. Each layer is
standardised by its train mean and std (s3prl's optional per-layer normalisation).

Speaker verification: cosine scores of every pair of test utterances (centred by the train
mean), equal error rate and minimum detection cost (p_target 0.01, C_miss = C_fa = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.speech.encoders import layer_mean
from sslkit.speech.frontend import MFCC, MelSpectrogram, deltas, frame_count, power_to_db

HIDDEN = 256


@torch.no_grad()
def pooled_layers(
    hidden_fn: Callable[[dict[str, torch.Tensor]], tuple[list[torch.Tensor], torch.Tensor]],
    batches: Iterator[Any],
    device: str,
) -> np.ndarray:
    """Per-layer mean over valid frames of every utterance: ``(layers, N, D)`` float32."""
    out = []
    for batch in batches:
        inputs = {k: v.to(device) for k, v in batch.inputs.items()}
        hidden, valid = hidden_fn(inputs)
        out.append(layer_mean([h.float() for h in hidden], valid).cpu().numpy())
    return np.concatenate(out, axis=1)


class Floor(nn.Module):
    """The no-pretraining features, as one "layer": 39-d MFCCs (13 + deltas + delta-deltas) or
    80 log-mel bands (dB), 10 ms frames."""

    def __init__(self, kind: str, sample_rate: int):
        super().__init__()
        self.kind = kind
        self.hop = max(1, round(160 * sample_rate / 16000))
        n_fft = 2 * self.hop + self.hop // 2
        if kind == "mfcc":
            self.mfcc = MFCC(sample_rate, n_mfcc=13, n_mels=40, n_fft=n_fft, hop=self.hop)
        else:
            self.mel = MelSpectrogram(sample_rate, n_fft, self.hop, 80)

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        wave = inputs["wave"].float()
        if self.kind == "mfcc":
            c = self.mfcc(wave)
            d = deltas(c)
            x = torch.cat([c, d, deltas(d)], 1)
        else:
            x = power_to_db(self.mel(wave))
        x = x.transpose(1, 2)
        n = frame_count(inputs["lengths"], self.hop)
        valid = torch.arange(x.shape[1], device=x.device)[None] < n[:, None]
        return [x], valid


class Head(nn.Module):
    def __init__(self, layers: int, dim: int, classes: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(layers))
        self.proj = nn.Linear(dim, HIDDEN)
        self.out = nn.Linear(HIDDEN, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, L, D)
        w = torch.softmax(self.weights, 0)
        return self.out(self.proj(torch.einsum("l,bld->bd", w, x)))


def standardise(feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each layer centred and scaled by the train split's mean and std."""
    mean = feats["train"].mean(1, keepdims=True)
    std = feats["train"].std(1, keepdims=True) + 1e-5
    return {s: (x - mean) / std for s, x in feats.items()}


def train_head(
    feats: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    seed: int,
    epochs: int = 60,
    lr: float = 1e-3,
    batch: int = 32,
) -> dict[str, Any]:
    """Fit the SUPERB head on ``feats["train"]`` (``(layers, N, D)``), keep the epoch best on
    ``val`` (train when there is no val), score ``test``: accuracies and the layer weights."""
    g = torch.Generator().manual_seed(seed)
    keep = {s: y[s] >= 0 for s in y}
    x = {s: torch.from_numpy(feats[s][:, keep[s]]).float().transpose(0, 1) for s in feats}
    t = {s: torch.from_numpy(y[s][keep[s]]).long() for s in y}
    classes = int(max(int(v.max()) for v in t.values() if len(v)) + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = Head(x["train"].shape[1], x["train"].shape[2], classes)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    select = "val" if "val" in x and len(t["val"]) else "train"

    def accuracy(split: str) -> float:
        with torch.no_grad():
            return float((head(x[split]).argmax(-1) == t[split]).float().mean())

    best, best_state, best_epoch = -1.0, None, 0
    n = len(t["train"])
    for epoch in range(epochs):
        head.train()
        for idx in torch.randperm(n, generator=g).split(batch):
            loss = nn.functional.cross_entropy(head(x["train"][idx]), t["train"][idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
        head.eval()
        score = accuracy(select)
        if score > best:
            best, best_epoch = score, epoch
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    out = {"dev_accuracy": best, "epoch": best_epoch}
    if "test" in x and len(t["test"]):
        out["test_accuracy"] = accuracy("test")
    out["layer_weights"] = torch.softmax(head.weights.detach(), 0).numpy().round(3).tolist()
    return out


def verification(train: np.ndarray, test: np.ndarray, speakers: np.ndarray) -> dict[str, float]:
    """EER and minDCF of cosine scoring over every pair of test utterances with known
    speakers (embeddings centred by the train mean)."""
    ok = speakers >= 0
    z = test[ok] - train.mean(0)
    z = z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-9)
    s = speakers[ok]
    iu = np.triu_indices(len(z), k=1)
    scores = (z @ z.T)[iu]
    target = (s[:, None] == s[None, :])[iu]
    return {**eer_min_dcf(scores, target), "trials": len(scores)}


def eer_min_dcf(scores: np.ndarray, target: np.ndarray, p_target: float = 0.01) -> dict[str, float]:
    """Equal error rate and the normalised minimum detection cost of ``scores`` (higher =
    same speaker) for the boolean ``target`` trials."""
    order = np.argsort(-scores, kind="stable")
    tgt = target[order].astype(np.float64)
    n_t, n_n = tgt.sum(), (1 - tgt).sum()
    if n_t == 0 or n_n == 0:
        return {"eer": float("nan"), "min_dcf": float("nan")}
    # threshold after the k-th highest score: accept the first k trials
    fa = np.concatenate([[0.0], np.cumsum(1 - tgt)]) / n_n
    miss = 1.0 - np.concatenate([[0.0], np.cumsum(tgt)]) / n_t
    i = int(np.argmin(np.abs(miss - fa)))
    eer = float((miss[i] + fa[i]) / 2)
    dcf = p_target * miss + (1 - p_target) * fa
    min_dcf = float(dcf.min() / min(p_target, 1 - p_target))
    return {"eer": eer, "min_dcf": min_dcf}
