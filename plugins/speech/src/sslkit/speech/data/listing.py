"""What to read: the files of a folder or a CSV manifest, with speakers, labels and splits.

- A folder: every ``.wav``, ``.flac``, ``.ogg`` below it (sorted). When every file is named as
  the Free Spoken Digit Dataset's ``{digit}_{speaker}_{take}``, the digit is the label, the
  speaker the speaker, and the split is the official one: takes 0-4 test, 5-9 dev, the rest
  train. Otherwise the first sub-folder (if any) is the label, and the split is random.
- A CSV manifest: a ``path`` column (relative to the manifest's folder or absolute), optional
  ``speaker``, ``label`` and ``split`` (``train``, ``dev``/``val``/``valid``, ``test``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sslkit.core.errors import DataError
from sslkit.speech.data.audio import AUDIO_SUFFIXES

FSDD_NAME = re.compile(r"^(\d+)_([^_]+)_(\d+)$")
SPLITS = {"train": "train", "dev": "val", "val": "val", "valid": "val", "test": "test"}


@dataclass
class Listing:
    paths: list[Path]
    ids: list[str]
    labels: list[str] | None
    speakers: list[str] | None
    splits: list[str] | None  # "train" / "val" / "test", or None: a random split
    kind: str  # "fsdd", "folder", "manifest"

    def subset(self, n: int, seed: int) -> Listing:
        """A seeded random subset of ``n`` files, in their order."""
        keep = np.sort(np.random.default_rng(seed).choice(len(self.paths), n, replace=False))

        def pick(values):
            return None if values is None else [values[i] for i in keep]

        return Listing(
            pick(self.paths),
            pick(self.ids),
            pick(self.labels),
            pick(self.speakers),
            pick(self.splits),
            self.kind,
        )


def list_audio(path: Path) -> Listing:
    """The files (and what is known of them) at ``path``: a folder or a ``.csv`` manifest."""
    if path.is_dir():
        return _folder(path)
    if path.suffix.lower() == ".csv":
        return _manifest(path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise DataError(
            "data.path is one audio file", path=str(path), hint="give its folder or a manifest"
        )
    raise DataError(
        "not a folder of audio files nor a .csv manifest",
        path=str(path),
        hint="data.path=<folder of wav/flac/ogg> or <manifest.csv> with a 'path' column",
    )


def _folder(root: Path) -> Listing:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(
            "no .wav, .flac or .ogg file in the folder", path=str(root), hint="check data.path"
        )
    ids = [p.relative_to(root).as_posix() for p in files]
    parsed = [FSDD_NAME.match(p.stem) for p in files]
    if all(parsed):
        labels = [m.group(1) for m in parsed]
        speakers = [m.group(2) for m in parsed]
        takes = [int(m.group(3)) for m in parsed]
        splits = ["test" if t < 5 else "val" if t < 10 else "train" for t in takes]
        return Listing(files, ids, labels, speakers, splits, "fsdd")
    firsts = [Path(i).parts[0] if len(Path(i).parts) > 1 else None for i in ids]
    labels = firsts if all(f is not None for f in firsts) else None
    return Listing(files, ids, labels, None, None, "folder")


def _manifest(path: Path) -> Listing:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read the manifest ({e})", path=str(path)) from None
    if not rows:
        raise DataError("the manifest has no rows", path=str(path))
    columns = {c.strip().lower(): c for c in rows[0] if c is not None}
    if "path" not in columns:
        raise DataError(
            "the manifest has no 'path' column",
            path=str(path),
            hint=f"columns found: {', '.join(columns)}; name the audio file column 'path'",
        )
    base = path.parent
    files, missing, first_missing = [], 0, None
    for r in rows:
        p = Path((r[columns["path"]] or "").strip())
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            missing += 1
            first_missing = first_missing or p
        files.append(p)
    if missing:
        raise DataError(
            f"{missing} of {len(rows)} files named in the manifest do not exist, the first: "
            f"{first_missing}",
            path=str(path),
            column="path",
            hint="paths are relative to the manifest's folder",
        )

    def col(name: str) -> list[str] | None:
        if name not in columns:
            return None
        return [(r[columns[name]] or "").strip() for r in rows]

    splits = col("split")
    if splits is not None:
        for i, s in enumerate(splits):
            if s.lower() not in SPLITS:
                raise DataError(
                    f"unknown split {s!r}",
                    path=str(path),
                    row=i + 2,
                    column="split",
                    hint="use train, dev (or val) and test",
                )
        splits = [SPLITS[s.lower()] for s in splits]
    ids = [(r[columns["path"]] or "").strip() for r in rows]
    return Listing(files, ids, col("label"), col("speaker"), splits, "manifest")


def random_splits(n: int, dev: float, test: float, seed: int) -> list[str]:
    """A seeded random split of ``n`` files: ``test`` and ``dev`` shares held out."""
    u = np.random.default_rng(seed).random(n)
    return ["test" if x < test else "val" if x < test + dev else "train" for x in u]
