"""Reading speech data into a :class:`SpeechSet`: ``load_data(config, state=None)``.

``data.path``: empty or ``fsdd`` (the embedded Free Spoken Digit Dataset subset), a folder of
audio files or a CSV manifest (see :mod:`sslkit.speech.data.listing`). Every file is read with
soundfile, mixed down to mono and resampled to ``data.sample_rate``. Bad files are skipped and
counted (``data.bad_files=error``: exit 2 at the first); files shorter than the training crop
are zero-padded in the crops, and counted.
"""

from __future__ import annotations

import hashlib
import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.speech.data.audio import read_audio, read_many, resample
from sslkit.speech.data.domain import SpeechSet, pad_waves
from sslkit.speech.data.listing import Listing, list_audio, random_splits

__all__ = ["SpeechSet", "embedded_path", "load_data", "pad_waves", "read_audio", "resample"]

log = logging.getLogger("sslkit.speech")
SHOWN = 5
"""Bad files named one by one before the count."""


def embedded_path() -> Path:
    """The folder of the embedded FSDD subset (takes 0-19)."""
    return Path(str(files("sslkit.speech.datasets") / "fsdd"))


def _vocab(values: list[str] | None, known: list[str] | None) -> tuple[np.ndarray | None, list]:
    """Class ids of ``values`` ("" = unknown: -1) in the vocabulary ``known`` (fitted, sorted,
    when None)."""
    if values is None:
        return None, []
    if known is None:
        known = sorted({v for v in values if v != ""}, key=lambda v: (len(v), v))
    index = {v: i for i, v in enumerate(known)}
    return np.array([index.get(v, -1) for v in values], dtype=np.int64), list(known)


def load_data(config: Any, state: dict[str, Any] | None = None) -> SpeechSet:
    source = (config.path or "").strip()
    path = embedded_path() if source in ("", "fsdd") else Path(source).expanduser()
    if not path.exists():
        raise DataError("no such file or folder", path=str(path), hint="check data.path")
    listing = list_audio(path)
    if 0 < config.max_files < len(listing.paths):
        listing = listing.subset(config.max_files, config.split_seed)
    sr = int(config.sample_rate)
    if sr <= 0 or config.crop_seconds <= 0 or config.max_seconds < config.crop_seconds:
        raise DataError(
            "data.sample_rate and data.crop_seconds must be positive, data.max_seconds at "
            "least data.crop_seconds"
        )
    waves, report = read_many(
        listing.paths, sr, float(config.max_seconds), strict=config.bad_files == "error"
    )
    for p, why in report.bad[:SHOWN]:
        log.warning("%s: %s; skipped", p, why)
    if report.bad:
        more = f" ({len(report.bad) - SHOWN} more not listed)" if len(report.bad) > SHOWN else ""
        log.warning(
            "%s: %d of %d audio files unreadable or empty and skipped%s; data.bad_files=error "
            "stops at the first",
            path,
            len(report.bad),
            len(waves),
            more,
        )
    keep = [i for i, w in enumerate(waves) if w is not None]
    if not keep:
        raise DataError("no readable audio file", path=str(path))
    return _assemble(config, state, listing, [waves[i] for i in keep], keep, report, path)


def _assemble(config, state, listing: Listing, waves, keep, report, path) -> SpeechSet:
    def sub(values):
        return None if values is None else [values[i] for i in keep]

    state = dict(state or {})
    labels, label_vocab = _vocab(sub(listing.labels), state.get("labels"))
    speakers, speaker_vocab = _vocab(sub(listing.speakers), state.get("speakers"))
    split_of = sub(listing.splits) or random_splits(
        len(keep), config.dev_fraction, config.test_fraction, config.split_seed
    )
    split_of = np.array(split_of)
    splits = {s: np.flatnonzero(split_of == s) for s in ("train", "val", "test")}
    ids = np.array([listing.ids[i] for i in keep])
    crop = round(config.crop_seconds * config.sample_rate)
    short = int(sum(len(w) < crop for w in waves))
    if short:
        log.info(
            "%s: %d of %d files shorter than data.crop_seconds=%g are zero-padded in the crops",
            path,
            short,
            len(waves),
            config.crop_seconds,
        )
    probe = config.label
    if probe == "auto":
        probe = "label" if labels is not None else "speaker"
    if probe == "label" and labels is None:
        raise DataError("the data has no labels", path=str(path), hint="data.label=speaker")
    if probe == "speaker" and speakers is None and config.label == "speaker":
        raise DataError("the data names no speakers", path=str(path), column="speaker")
    digest = hashlib.sha256()
    for i, w in zip(ids, waves):
        digest.update(f"{i}:{len(w)};".encode())
    facts = {
        "source": str(path),
        "kind": listing.kind,
        "files": len(waves),
        "bad_skipped": len(report.bad),
        "short_padded": short,
        "sample_rates": sorted(report.rates),
        "stereo_mixed_down": report.stereo,
        "splits": {s: len(v) for s, v in splits.items()},
        "fingerprint": digest.hexdigest()[:16],
    }
    info = {"sample_rate": int(config.sample_rate), "crop": crop}
    new_state = {
        "labels": label_vocab if labels is not None else None,
        "speakers": speaker_vocab if speakers is not None else None,
        "sample_rate": int(config.sample_rate),
    }
    return SpeechSet(
        waves,
        ids,
        labels,
        speakers,
        splits,
        probe_label=probe,
        pretrain_on=config.pretrain_on,
        info=info,
        facts=facts,
        state=new_state,
    )
