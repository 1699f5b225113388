"""Reading audio files: soundfile, mono mixdown, resampling to the model's rate.

Resampling is polyphase filtering (``scipy.signal.resample_poly``: a Kaiser-windowed sinc
low-pass at the lower of the two Nyquist rates), the same on every platform; torchaudio is not
used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class BadAudio(Exception):
    """A file soundfile cannot read, or one without samples."""


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """``x`` (samples,) float at ``sr_in`` -> float32 at ``sr_out`` (polyphase, Kaiser window
    beta 5, 10 zero crossings per side as scipy's default)."""
    if sr_in == sr_out or len(x) == 0:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(x.astype(np.float64), sr_out // g, sr_in // g).astype(np.float32)


def read_audio(path: str | Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """The file at ``path`` as float32 mono (channels averaged) at ``sample_rate``; at most
    ``max_seconds`` of it. Raises :class:`BadAudio` for an unreadable or empty file."""
    return _read(path, sample_rate, max_seconds)[0]


def _read(path: str | Path, sample_rate: int, max_seconds: float | None) -> tuple:
    import soundfile as sf

    try:
        info = sf.info(str(path))
        frames = -1 if max_seconds is None else int(np.ceil(max_seconds * info.samplerate))
        x, sr = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors (LibsndfileError, RuntimeError, TypeError)
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise BadAudio(f"cannot read audio ({msg})") from None
    if x.shape[0] == 0:
        raise BadAudio("the file holds no samples")
    mono = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if not np.isfinite(mono).all():
        raise BadAudio("the file holds NaN or infinite samples")
    return resample(mono, int(sr), int(sample_rate)), int(sr), int(x.shape[1])


@dataclass
class ReadReport:
    """What reading a list of files found: the bad ones (skipped) and sample rates seen."""

    bad: list[tuple[str, str]] = field(default_factory=list)
    rates: set[int] = field(default_factory=set)
    stereo: int = 0


def read_many(
    paths: list[Path], sample_rate: int, max_seconds: float, strict: bool
) -> tuple[list[np.ndarray | None], ReadReport]:
    """Read every file (``None`` for a bad one, recorded in the report); with ``strict`` the
    first bad file stops with a :class:`sslkit.core.errors.DataError` (exit code 2)."""
    from sslkit.core.errors import DataError

    report = ReadReport()
    out: list[np.ndarray | None] = []
    for p in paths:
        try:
            wave, sr, channels = _read(p, sample_rate, max_seconds)
            out.append(wave)
            report.rates.add(sr)
            report.stereo += int(channels > 1)
        except BadAudio as e:
            if strict:
                raise DataError(
                    str(e), path=str(p), hint="remove or re-encode it, or data.bad_files=skip"
                ) from None
            report.bad.append((str(p), str(e)))
            out.append(None)
    return out, report
