"""Log-mel filterbanks and MFCCs in torch, on the training device, written against librosa.

- :func:`mel_filters` is ``librosa.filters.mel`` (Slaney mel scale and Slaney area
  normalisation, librosa's defaults; ``htk=True`` for the HTK scale).
- :class:`MelSpectrogram` is ``librosa.feature.melspectrogram`` (``center=True`` with zero
  padding, periodic Hann window, power 2): the STFT is a strided ``conv1d`` with the windowed
  DFT basis, so that it runs on any device and exports to ONNX.
- :func:`power_to_db` is ``librosa.power_to_db`` (``ref=1``, ``amin=1e-10``, ``top_db`` per
  example), :class:`MFCC` is ``librosa.feature.mfcc`` (orthonormal DCT-II of the dB mel
  spectrogram), :func:`deltas` the regression deltas of HuBERT's 39-d MFCC features.

``tests/test_frontend.py`` compares them with librosa.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def hz_to_mel(f: np.ndarray, htk: bool = False) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz,
        min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep,
        f / f_sp,
    )


def mel_to_hz(m: np.ndarray, htk: bool = False) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(
    sr: int,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, 1 + n_fft // 2)`` as ``librosa.filters.mel``."""
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mels = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2)
    mel_f = mel_to_hz(mels, htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II ``(n_mfcc, n_mels)`` (``scipy.fft.dct(norm="ortho")``)."""
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)[:, None]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis


def power_to_db(s: torch.Tensor, top_db: float | None = 80.0, amin: float = 1e-10) -> torch.Tensor:
    """``10 log10(max(s, amin))``, floored at ``top_db`` below each example's maximum
    (``s``: ``(batch, mels, frames)``)."""
    db = 10.0 * torch.log10(s.clamp_min(amin))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


def frame_count(lengths: torch.Tensor, hop: int) -> torch.Tensor:
    """STFT frames (``center=True``) that hold signal: ``1 + length // hop``."""
    return 1 + torch.div(lengths, hop, rounding_mode="floor")


class MelSpectrogram(nn.Module):
    """Power mel spectrogram ``(batch, samples) -> (batch, n_mels, frames)``, frames =
    ``1 + samples // hop``; defaults are 25 ms windows and a 10 ms hop at 16 kHz."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        hop: int = 160,
        n_mels: int = 80,
        htk: bool = False,
    ):
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(hop)
        n = torch.arange(n_fft, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / n_fft)  # periodic Hann
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        angle = 2 * math.pi * k * n[None, :] / n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
        self.register_buffer("basis", basis[:, None, :].float(), persistent=False)
        fb = mel_filters(sample_rate, n_fft, n_mels, htk=htk)
        self.register_buffer("filters", torch.from_numpy(fb).float(), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = F.pad(wave[:, None, :].float(), (self.n_fft // 2, self.n_fft // 2))
        spec = F.conv1d(x, self.basis.to(x.dtype), stride=self.hop)  # (B, 2K, frames)
        re, im = spec.chunk(2, dim=1)
        return torch.matmul(self.filters.to(x.dtype), re * re + im * im)


class MFCC(nn.Module):
    """``librosa.feature.mfcc``: ``n_mfcc`` orthonormal DCT-II coefficients of the dB mel
    spectrogram (``top_db=80``); ``(batch, samples) -> (batch, n_mfcc, frames)``."""

    def __init__(self, sample_rate: int = 16000, n_mfcc: int = 13, n_mels: int = 40, **mel):
        super().__init__()
        self.mel = MelSpectrogram(sample_rate, n_mels=n_mels, **mel)
        self.register_buffer(
            "dct", torch.from_numpy(dct_matrix(n_mfcc, n_mels)).float(), persistent=False
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.dct, power_to_db(self.mel(wave)))


def deltas(x: torch.Tensor, n: int = 2) -> torch.Tensor:
    """Regression deltas over the last axis, ``sum_k k (x[t+k] - x[t-k]) / (2 sum_k k^2)``,
    edges replicated (HTK / Kaldi; torchaudio's ``compute_deltas`` with ``win_length=5``)."""
    t = x.shape[-1]
    padded = F.pad(x.reshape(-1, 1, t), (n, n), mode="replicate").reshape(*x.shape[:-1], t + 2 * n)
    num = sum(
        k * (padded[..., n + k : n + k + t] - padded[..., n - k : n - k + t])
        for k in range(1, n + 1)
    )
    return num / (2 * sum(k * k for k in range(1, n + 1)))


def mfcc39(mfcc: MFCC, wave: torch.Tensor) -> torch.Tensor:
    """HuBERT's iteration-1 features: 13 MFCCs, deltas and delta-deltas ``(batch, frames, 39)``."""
    c = mfcc(wave)
    d = deltas(c)
    return torch.cat([c, d, deltas(d)], dim=1).transpose(1, 2)
