"""What a ``data.path`` names, as a list of items before any image is read.

- a MedMNIST-style ``.npz`` (keys ``{train,val,test}_{images,labels}``): arrays, read with
  ``numpy.load(allow_pickle=False)``;
- a NIfTI file (``.nii``, ``.nii.gz``), a DICOM series folder (a folder of DICOM files), a
  2-D PNG / JPEG file: one item;
- a folder of such files and series folders: one item each (sorted names);
- a CSV manifest (columns ``image``, optional ``label`` or several ``label*`` columns,
  ``mask``, ``split``); relative paths are read from the manifest's folder.

Items are dicts ``{"image": path, "mask": path (optional), "label": ..., "split": ...}`` as
MONAI's dictionary transforms take them. Missing files and bad columns are
:class:`~sslkit.core.errors.DataError` naming the file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import DataError

NIFTI = (".nii", ".nii.gz")
PICTURES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "val", "test")


@dataclass
class Listing:
    """Items read from a path: file items (``files``) or in-memory arrays (``arrays``)."""

    source: str
    kind: str  # "npz" or "files"
    spatial_dims: int
    files: list[dict[str, Any]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    label_names: list[str] = field(default_factory=list)


def is_nifti(p: Path) -> bool:
    return p.name.lower().endswith(NIFTI)


def is_picture(p: Path) -> bool:
    return p.suffix.lower() in PICTURES


def is_dicom_file(p: Path) -> bool:
    """A DICOM file: ``.dcm``, or the ``DICM`` magic at byte 128."""
    if p.suffix.lower() == ".dcm":
        return True
    try:
        with p.open("rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def is_dicom_series(p: Path) -> bool:
    return p.is_dir() and any(is_dicom_file(f) for f in sorted(p.iterdir())[:8] if f.is_file())


def read_npz(path: Path, max_items: int = 0) -> Listing:
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            arrays, labels = {}, {}
            for s in SPLITS:
                if f"{s}_images" in keys:
                    x = z[f"{s}_images"]
                    arrays[s] = x[:max_items] if max_items else x
                    if f"{s}_labels" in keys:
                        y = z[f"{s}_labels"]
                        labels[s] = y[:max_items] if max_items else y
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read the .npz file: {e}", path=path) from None
    if not arrays:
        raise DataError(
            f"no images in the .npz file (keys: {', '.join(sorted(keys)) or 'none'})",
            path=path,
            hint="MedMNIST layout: train_images, train_labels, val_images, ..., test_labels",
        )
    first = next(iter(arrays.values()))
    for s, y in labels.items():
        if len(y) != len(arrays[s]):
            raise DataError(
                f"{s}_labels has {len(y)} rows but {s}_images has {len(arrays[s])}", path=path
            )
    # (N, D, H, W) volumes or (N, H, W[, 3]) pictures, as MedMNIST stores them
    dims = 3 if first.ndim == 4 and first.shape[-1] not in (1, 3) else 2
    if first.ndim not in (3, 4):
        raise DataError(f"images of shape {first.shape[1:]}: expected 2-D or 3-D", path=path)
    return Listing(str(path), "npz", dims, arrays=arrays, labels=labels)


def _single(p: Path) -> dict[str, Any]:
    return {"image": str(p)}


def _folder_items(path: Path) -> list[dict[str, Any]]:
    if is_dicom_series(path):
        return [_single(path)]
    items = []
    for p in sorted(path.iterdir()):
        if is_nifti(p) or is_picture(p) or (p.is_dir() and is_dicom_series(p)):
            items.append(_single(p))
    if not items:
        raise DataError(
            "no NIfTI, PNG/JPEG files or DICOM series folders in the folder",
            path=path,
            hint="give a .nii/.nii.gz/.png file, a DICOM series folder, a .npz or a CSV manifest",
        )
    return items


def _manifest(path: Path, max_items: int) -> tuple[list[dict[str, Any]], list[str]]:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas' parser errors: one line
        raise DataError(f"cannot read the CSV manifest: {e}", path=path) from None
    if "image" not in df.columns:
        raise DataError(
            f"no 'image' column (columns: {', '.join(df.columns)})",
            path=path,
            column="image",
            hint="a manifest has columns image, optional label, mask, split",
        )
    label_cols = [c for c in df.columns if c == "label" or c.startswith("label_")]
    if max_items:
        df = df.head(max_items)
    base = path.parent
    items = []
    for i, row in enumerate(df.itertuples(index=False), start=2):  # row 1 is the header
        rec = row._asdict()
        item: dict[str, Any] = {}
        for col in ("image", "mask"):
            value = str(rec.get(col, "") or "").strip()
            if not value:
                if col == "image":
                    raise DataError("empty image path", path=path, row=i, column="image")
                continue
            p = Path(value) if Path(value).is_absolute() else base / value
            if not p.exists():
                raise DataError(
                    f"{col} file {value} does not exist ({p})",
                    path=path,
                    row=i,
                    column=col,
                    hint="paths are read relative to the manifest's folder",
                )
            item[col] = str(p)
        split = str(rec.get("split", "") or "").strip().lower()
        if split and split not in SPLITS:
            raise DataError(
                f"split {split!r} is none of train, val, test", path=path, row=i, column="split"
            )
        item["split"] = split
        values = []
        for c in label_cols:
            v = str(rec.get(c, "")).strip()
            try:
                values.append(float(v) if v else np.nan)
            except ValueError:
                raise DataError(
                    f"label {v!r} is not a number", path=path, row=i, column=c,
                    hint="labels are class ids (0, 1, ...) or 0/1 per column (multi-label)",
                ) from None  # fmt: skip
        item["label"] = values
        items.append(item)
    if not items:
        raise DataError("the manifest has no rows", path=path)
    return items, label_cols


def dims_of(path: str) -> int:
    return 2 if is_picture(Path(path)) else 3


def list_items(path: Path, max_items: int = 0) -> Listing:
    """The items ``path`` names (see the module's docstring)."""
    if not path.exists():
        raise DataError("no such file or folder", path=path)
    name = path.name.lower()
    if name.endswith(".npz"):
        return read_npz(path, max_items)
    if name.endswith((".csv", ".tsv")):
        items, label_cols = _manifest(path, max_items)
        listing = Listing(str(path), "files", dims_of(items[0]["image"]), files=items)
        listing.label_names = label_cols
        return listing
    if path.is_dir():
        items = _folder_items(path)
    elif is_nifti(path) or is_picture(path) or is_dicom_file(path):
        items = [_single(path)]
    else:
        raise DataError(
            "not a format the medical plugin reads",
            path=path,
            hint="give a .npz, .nii/.nii.gz, .png/.jpg, a DICOM series folder or a CSV manifest",
        )
    if max_items:
        items = items[:max_items]
    return Listing(str(path), "files", dims_of(items[0]["image"]), files=items)
