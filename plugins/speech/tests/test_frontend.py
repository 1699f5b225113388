"""The torch front end against librosa (the reference), and resampling against an analytic
signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sslkit.speech.data import embedded_path, read_audio
from sslkit.speech.frontend import MFCC, MelSpectrogram, deltas, mel_filters, power_to_db

librosa = pytest.importorskip("librosa")


def _speech() -> np.ndarray:
    return read_audio(sorted(embedded_path().glob("*.flac"))[7], 16000)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_filters_equal_librosa(htk: bool) -> None:
    ours = mel_filters(16000, 400, 80, htk=htk)
    ref = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, htk=htk)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)


def test_log_mel_and_mfcc_agree_with_librosa() -> None:
    """Stated tolerances: power mel within 1e-5 of the largest value, dB (top_db=80) within
    0.01 dB, MFCCs within 1e-3 (they span hundreds)."""
    y = _speech()
    ours = MelSpectrogram(16000, 400, 160, 80)(torch.from_numpy(y)[None])[0].numpy()
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=400, hop_length=160, n_mels=80)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-5 * ref.max()
    db = power_to_db(torch.from_numpy(ours)[None], top_db=80.0)[0].numpy()
    np.testing.assert_allclose(db, librosa.power_to_db(ref, top_db=80.0), rtol=0, atol=1e-2)
    c = MFCC(16000, n_mfcc=13, n_mels=40, n_fft=400, hop=160)(torch.from_numpy(y)[None])[0]
    ref_c = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40)
    np.testing.assert_allclose(c.numpy(), ref_c, rtol=0, atol=1e-3)


def test_deltas_are_the_regression_formula() -> None:
    x = torch.tensor([[0.0, 1.0, 4.0, 9.0, 16.0, 25.0]])
    p = torch.tensor([[0.0, 0.0, 0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 25.0, 25.0]])
    want = [(1 * (p[0, t + 3] - p[0, t + 1]) + 2 * (p[0, t + 4] - p[0, t])) / 10 for t in range(6)]
    np.testing.assert_allclose(deltas(x)[0].numpy(), torch.stack(want).numpy(), atol=1e-6)


def test_an_8khz_file_resampled_equals_the_16khz_reference(tmp_path: Path) -> None:
    """A sum of tones below 3.4 kHz written at 8 kHz (16-bit), read at 16 kHz: within 2e-3 of
    the same tones sampled at 16 kHz (peak 0.9), away from the first and last 10 ms."""
    tones = [(220.0, 0.3), (1000.0, 0.25), (2500.0, 0.2), (3300.0, 0.15)]

    def signal(sr: int) -> np.ndarray:
        t = np.arange(sr) / sr
        return sum(a * np.sin(2 * np.pi * f * t + f) for f, a in tones)

    sf.write(tmp_path / "tone8k.wav", signal(8000), 8000, subtype="PCM_16")
    ours = read_audio(tmp_path / "tone8k.wav", 16000)
    ref = signal(16000)
    assert len(ours) == len(ref)
    inner = slice(160, -160)
    assert np.abs(ours[inner] - ref[inner]).max() < 2e-3
