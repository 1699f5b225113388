"""Config dataclasses of the speech plugin (no torch: the CLI reads them for ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class SpeechData:
    path: str = ""
    """A folder of wav/flac/ogg files (FSDD's `{digit}_{speaker}_{take}` names are parsed), a CSV
    manifest (`path`, optional `speaker`, `label`, `split`), or empty for the embedded Free
    Spoken Digit Dataset subset."""
    sample_rate: int = 16000
    """The model's sample rate: every file is resampled to it (mono mixdown first)."""
    crop_seconds: float = 1.0
    """Length of the random training crops; shorter audio is zero-padded (and counted)."""
    max_seconds: float = 8.0
    """Evaluation and export read at most this much of each file (SUPERB's 8 s for SID)."""
    bad_files: Literal["skip", "error"] = "skip"
    """A corrupt or empty audio file: skip it (named and counted) or stop with exit code 2."""
    label: Literal["auto", "label", "speaker"] = "auto"
    """The label the default probe scores: `auto` is the manifest's `label` (FSDD: the digit),
    else the speaker."""
    dev_fraction: float = 0.1
    """Share of the files held out for model selection when the data names no `split`."""
    test_fraction: float = 0.1
    """Share of the files held out as test when the data names no `split`."""
    pretrain_on: Literal["train", "all"] = "train"
    """Which files pretraining reads: the train split only (default) or every file."""
    split_seed: int = 0
    """Seed of the random split of files that name none (FSDD: takes 0-4 test, 5-9 dev)."""
    max_files: int = 0
    """Read only a seeded random subset of this many files (0: every file), for a quick try."""


@dataclass
class EncoderOptions:
    frontend: Literal["fbank", "conv"] = "fbank"
    """`fbank`: log-mel filterbanks + 2-D convolutional subsampling (x`subsample`);
    `conv`: a wav2vec 2.0 convolutional feature extractor on the waveform (20 ms frames)."""
    n_mels: int = 80
    """Mel bands of the filterbank front end (25 ms windows, 10 ms hop)."""
    subsample: int = 2
    """Frame subsampling of the fbank front end (2: 50 frames/s, as wav2vec 2.0 / HuBERT)."""
    dim: int = 128
    """Transformer width."""
    layers: int = 4
    """Transformer layers; every layer's output is a hidden state for the SUPERB weighted sum."""
    heads: int = 4
    ffn_mult: int = 4
    """Feed-forward width as a multiple of `dim`."""
    dropout: float = 0.1
    pos_kernel: int = 31
    """Kernel of the convolutional relative positional embedding (wav2vec 2.0: 128)."""


@dataclass
class HuBERTConfig(EncoderOptions):
    clusters: int = 100
    """k-means clusters of the targets (HuBERT: 100 on MFCCs, 500 in iteration 2)."""
    targets_from: str = ""
    """Empty: iteration 1, k-means on 39-d MFCCs (with deltas). A run folder: the next iteration,
    k-means on `target_layer` of that run's encoder (`--set method.targets_from=runs/it1`)."""
    target_layer: int = -1
    """Hidden state of the `targets_from` run clustered for the next iteration (-1: the middle
    layer, HuBERT's layer 6 of 12)."""
    kmeans_frames: int = 100000
    """Frames sampled from the training audio to fit the k-means."""
    mask_prob: float = 0.08
    """Span starts per frame (x `mask_span` ~ share of masked frames; fairseq's mask_prob 0.8)."""
    mask_span: int = 10
    final_dim: int = 64
    """Width of the projection compared with the cluster embeddings (cosine / `temperature`)."""
    temperature: float = 0.1
    unmasked_weight: float = 0.0
    """HuBERT's alpha: weight of the loss on unmasked frames."""


@dataclass
class BestRQConfig(EncoderOptions):
    codebook_size: int = 8192
    """Entries of the frozen random codebook (BEST-RQ: 8192)."""
    code_dim: int = 16
    """Width of the random projection (BEST-RQ: 16)."""
    mask_prob: float = 0.15
    """Span starts per frame (SpeechBrain's BEST-RQ: 0.15 with spans of 4)."""
    mask_span: int = 4
    noise_std: float = 0.1
    """Masked filterbank frames are replaced by normal noise of this std (the paper's masking)."""


@dataclass
class Data2VecConfig(EncoderOptions):
    top_k: int = 8
    """Teacher layers averaged for the targets (capped at `layers`)."""
    mask_prob: float = 0.065
    """Span starts per frame (data2vec: 0.65 in fairseq's units, spans of 10)."""
    mask_span: int = 10
    ema_start: float = 0.999
    ema_end: float = 0.9999


@dataclass
class DinoSRConfig(EncoderOptions):
    top_k: int = 8
    """Teacher layers clustered online, each with its own codebook (capped at `layers`)."""
    codebook_size: int = 256
    """Codewords of each layer's codebook (DinoSR: 256)."""
    codebook_decay: float = 0.9
    """EMA decay of the codeword sums and counts (DinoSR: 0.9)."""
    mask_prob: float = 0.08
    """Span starts per frame, spans of `mask_span` (HuBERT's masking, as DinoSR)."""
    mask_span: int = 10
    ema_start: float = 0.999
    ema_end: float = 0.9999


@dataclass
class SpeakerConfig(EncoderOptions):
    temperature: float = 0.1
    margin: float = 0.1
    """Additive margin of AM-InfoNCE on the positive pair."""
    proj_dim: int = 128
    """Width of the projection head the loss sees (not exported)."""
    crop_fraction: float = 0.6
    """Each of the two views is a random crop of this share of the utterance (at most
    `data.crop_seconds`), so that the two views differ."""
