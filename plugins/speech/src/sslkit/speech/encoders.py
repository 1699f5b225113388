"""Speech encoders: a front end (log-mel filterbanks + convolutional subsampling, or a wav2vec
2.0 convolutional feature extractor on the waveform), a convolutional positional embedding and
a pre-LN Transformer. ``SpeechEncoder(wave, lengths)`` returns every layer's hidden states
(the front end's output first, then each block's), for the SUPERB weighted sum.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.core.nn import recorded_spec, records_init
from sslkit.speech.configs import EncoderOptions
from sslkit.speech.frontend import MelSpectrogram, frame_count

__all__ = ["EncoderOptions", "SpeechEmbedder", "SpeechEncoder", "build_encoder", "layer_mean"]

HOP = 160
"""Samples per filterbank frame at 16 kHz (10 ms); scaled with the sample rate."""
W2V_CONV = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
"""wav2vec 2.0's feature extractor: (kernel, stride) of its 7 layers (20 ms frames at 16 kHz)."""


class Block(nn.Module):
    """Pre-LN Transformer block; attention written out (exports to ONNX, no fused kernels)."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, T, dh)
        scores = torch.matmul(q, k.transpose(-1, -2)) / (d // self.heads) ** 0.5
        scores = scores.masked_fill(~valid[:, None, None, :], torch.finfo(scores.dtype).min)
        att = self.drop(torch.softmax(scores, dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.ffn(self.norm2(x)))


@records_init
class SpeechEncoder(nn.Module):
    def __init__(
        self,
        sample_rate: int = 16000,
        frontend: str = "fbank",
        n_mels: int = 80,
        subsample: int = 2,
        dim: int = 128,
        layers: int = 4,
        heads: int = 4,
        ffn_mult: int = 4,
        dropout: float = 0.1,
        pos_kernel: int = 31,
        maskable: bool = False,
    ):
        super().__init__()
        if frontend not in ("fbank", "conv"):
            raise ValueError(f"frontend must be 'fbank' or 'conv', got {frontend!r}")
        self.frontend, self.subsample, self.dim = frontend, int(subsample), int(dim)
        self.sample_rate = int(sample_rate)
        self.num_layers = int(layers)
        if frontend == "fbank":
            self.hop = max(1, round(HOP * sample_rate / 16000))
            self.mel = MelSpectrogram(sample_rate, 2 * self.hop + self.hop // 2, self.hop, n_mels)
            self.subsampling = nn.Sequential(
                nn.Conv1d(n_mels, dim, 3, padding=1),
                nn.GELU(),
                nn.Conv1d(dim, dim, self.subsample, stride=self.subsample),
                nn.GELU(),
            )
            feat = dim
        else:
            convs = []
            for i, (k, s) in enumerate(W2V_CONV):
                convs += [nn.Conv1d(1 if i == 0 else dim, dim, k, stride=s, bias=False)]
                convs += [nn.GroupNorm(dim, dim) if i == 0 else nn.Identity(), nn.GELU()]
            self.extractor = nn.Sequential(*convs)
            feat = dim
        self.proj_norm = nn.LayerNorm(feat)
        self.proj = nn.Linear(feat, dim)
        self.pos = nn.Conv1d(dim, dim, pos_kernel, padding=pos_kernel // 2, groups=heads)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(dim, heads, dim * ffn_mult, dropout) for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(dim)
        # the learned vector of masked frames (HuBERT, data2vec): only when a method masks
        self.mask_emb = nn.Parameter(torch.empty(dim).uniform_()) if maskable else None

    # -- front end ------------------------------------------------------------------------------
    def fbank(self, wave: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mel frames ``(B, T, n_mels)`` normalised per utterance by one mean and one
        scale over its valid frames and bands (the gain goes, the spectral envelope that
        carries the speaker stays; a band without energy, as above 4 kHz in 8 kHz audio, is
        not blown up into noise), zero elsewhere; and the valid mask ``(B, T)``."""
        logmel = torch.log(self.mel(wave) + 1e-6).transpose(1, 2)
        valid = (
            torch.arange(logmel.shape[1], device=wave.device)[None]
            < frame_count(lengths, self.hop)[:, None]
        )
        w = valid[..., None].to(logmel.dtype)
        n = w.sum((1, 2), keepdim=True).clamp_min(1) * logmel.shape[2]
        centred = (logmel - (logmel * w).sum((1, 2), keepdim=True) / n) * w
        var = (centred**2).sum((1, 2), keepdim=True) / n
        return centred / (var + 1e-5).sqrt(), valid

    def frames(
        self,
        wave: torch.Tensor,
        lengths: torch.Tensor,
        fbank_mask: torch.Tensor | None = None,
        noise_std: float = 0.1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Front-end frames ``(B, T', dim)`` and their valid mask. ``fbank_mask`` (B, T', True =
        masked) replaces those frames' filterbanks by normal noise of ``noise_std`` (BEST-RQ)."""
        if self.frontend == "fbank":
            x, valid = self.fbank(wave, lengths)
            if fbank_mask is not None:
                m = fbank_mask.repeat_interleave(self.subsample, dim=1)[:, : x.shape[1]]
                m = F.pad(m, (0, x.shape[1] - m.shape[1]))[..., None]
                x = torch.where(m, noise_std * torch.randn_like(x), x)
            h = self.subsampling(x.transpose(1, 2)).transpose(1, 2)
            n = torch.div(frame_count(lengths, self.hop), self.subsample, rounding_mode="floor")
        else:
            h = self.extractor(wave[:, None, :]).transpose(1, 2)
            n = lengths
            for k, s in W2V_CONV:
                n = torch.div(n - k, s, rounding_mode="floor") + 1
        valid = torch.arange(h.shape[1], device=h.device)[None] < n.clamp_min(1)[:, None]
        return self.proj(self.proj_norm(h)), valid

    def grid(self, wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The valid mask ``(B, T')`` of the filterbank front end's frames, without computing
        them."""
        total = (1 + wave.shape[-1] // self.hop) // self.subsample
        n = torch.div(frame_count(lengths, self.hop), self.subsample, rounding_mode="floor")
        return torch.arange(total, device=wave.device)[None] < n.clamp_min(1)[:, None]

    def frame_rate_hop(self) -> int:
        """Waveform samples per encoder frame."""
        return frame_hop(self.frontend, self.subsample, self.sample_rate)

    # -- Transformer ----------------------------------------------------------------------------
    def transformer(
        self, x: torch.Tensor, valid: torch.Tensor, mask: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Hidden states (the input after the positional embedding, then every block; the last
        layer-normed) of frames ``x``; ``mask`` (True = masked) frames become the mask vector."""
        if mask is not None and self.mask_emb is not None:
            x = torch.where(mask[..., None], self.mask_emb.to(x.dtype), x)
        x = x * valid[..., None].to(x.dtype)
        x = x + F.gelu(self.pos(x.transpose(1, 2)).transpose(1, 2))
        x = self.drop(x)
        hidden = [x]
        for block in self.blocks:
            x = block(x, valid)
            hidden.append(x)
        hidden[-1] = self.final_norm(x)
        return hidden

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        x, valid = self.frames(wave, lengths)
        return self.transformer(x, valid), valid


def frame_hop(frontend: str, subsample: int, sample_rate: int) -> int:
    """Waveform samples per encoder frame: the filterbank hop times ``subsample``, or the
    product of the wav2vec 2.0 extractor's strides."""
    if frontend == "fbank":
        return max(1, round(HOP * sample_rate / 16000)) * int(subsample)
    hop = 1
    for _, s in W2V_CONV:
        hop *= s
    return hop


def layer_mean(hidden: list[torch.Tensor], valid: torch.Tensor) -> torch.Tensor:
    """Per-layer mean over valid frames: ``(layers, batch, dim)``. Mean pooling commutes with
    the SUPERB weighted sum and linear head, so the probes train on these."""
    w = valid[..., None].to(hidden[0].dtype)
    n = w.sum(1).clamp_min(1)
    return torch.stack([(h * w).sum(1) / n for h in hidden])


class SpeechEmbedder(nn.Module):
    """The utterance embedding ``embed`` returns: the mean over valid frames of the average of
    all hidden states (the SUPERB weighted sum with its initial, uniform weights)."""

    def __init__(self, encoder: SpeechEncoder):
        super().__init__()
        self.encoder = encoder
        self.training = encoder.training

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden, valid = self.encoder(inputs["wave"], inputs["lengths"])
        return layer_mean(hidden, valid).mean(0)


def speech_embedder(**encoder_kwargs: Any) -> SpeechEmbedder:
    """A fresh :class:`SpeechEmbedder` around ``SpeechEncoder(**encoder_kwargs)`` (what
    ``sslkit.core.export.load_encoder`` calls with the kwargs of :func:`embedder_spec`)."""
    return SpeechEmbedder(SpeechEncoder(**encoder_kwargs))


def embedder_spec(encoder: SpeechEncoder) -> dict[str, Any]:
    spec = recorded_spec(encoder)
    assert spec is not None, "a SpeechEncoder records its arguments"
    return {"build": "sslkit.speech.encoders:speech_embedder", "kwargs": spec["kwargs"]}


def build_encoder(
    config: EncoderOptions, info: dict[str, Any], maskable: bool = False
) -> SpeechEncoder:
    """The :class:`SpeechEncoder` a method's config asks for, at the data's sample rate;
    ``maskable`` adds the learned vector that replaces masked frames."""
    return SpeechEncoder(
        sample_rate=int(info["sample_rate"]),
        frontend=config.frontend,
        n_mels=config.n_mels,
        subsample=config.subsample,
        dim=config.dim,
        layers=config.layers,
        heads=config.heads,
        ffn_mult=config.ffn_mult,
        dropout=config.dropout,
        pos_kernel=config.pos_kernel,
        maskable=maskable,
    )
