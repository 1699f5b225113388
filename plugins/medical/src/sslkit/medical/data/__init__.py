"""Read medical images into a :class:`~sslkit.medical.data.domain.MedicalSet`.

``load_data(config, state=None)``: list what ``config.path`` names
(:mod:`sslkit.medical.data.sources`), run the deterministic MONAI preprocessing once per image
(:mod:`sslkit.medical.data.pipeline`), read the labels and the splits. ``state`` (a previous
run's) fixes the image size and channels so evaluate and export see what training saw.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.medical.configs import MedicalData
from sslkit.medical.data import pipeline
from sslkit.medical.data.domain import MedicalSet
from sslkit.medical.data.sources import SPLITS, Listing, list_items

EMBEDDED = {"adrenalmnist3d": "adrenalmnist3d.npz"}
DEFAULT_SIZE = {2: 128, 3: 64}


def embedded_path(name: str) -> Path:
    return Path(str(resources.files("sslkit.medical.datasets").joinpath(EMBEDDED[name])))


def resolve_path(path: str) -> Path:
    if path in ("", *EMBEDDED):
        return embedded_path(path or "adrenalmnist3d")
    return Path(path).expanduser()


def _size(cfg: MedicalData, dims: int, native: tuple[int, ...] | None) -> tuple[int, ...]:
    if cfg.size:
        size = tuple(int(s) for s in cfg.size)
        if len(size) == 1:
            size = size * dims
        if len(size) != dims or min(size) < 1:
            raise DataError(
                f"data.size = {list(cfg.size)}: give {dims} positive sizes (or one for every axis)"
            )
        return size
    return tuple(native) if native else (DEFAULT_SIZE[dims],) * dims


def _kind(cfg: MedicalData, labels: np.ndarray | None) -> str:
    if labels is None or not np.isfinite(labels).any():
        return "none"
    if cfg.task != "auto":
        return cfg.task
    if labels.shape[1] > 1:
        return "multilabel"
    classes = np.unique(labels[np.isfinite(labels[:, 0]), 0])
    return "binary" if len(classes) <= 2 else "multiclass"


def _from_npz(cfg: MedicalData, listing: Listing, state: dict | None):
    first = next(iter(listing.arrays.values()))
    rgb = pipeline.is_rgb(first)
    native = tuple(first.shape[1:3] if rgb else first.shape[1:])
    size = tuple(state["size"]) if state else _size(cfg, listing.spatial_dims, native)
    transform = pipeline.array_transforms(cfg, rgb, native, size)
    parts, labels, splits, start = [], [], {}, 0
    for s in SPLITS:
        if s not in listing.arrays:
            continue
        x = pipeline.run_arrays(listing.arrays[s], transform)
        parts.append(x)
        splits[s] = np.arange(start, start + len(x))
        start += len(x)
        y = listing.labels.get(s)
        labels.append(
            np.full((len(x), 1), np.nan) if y is None else y.reshape(len(x), -1).astype(np.float64)
        )
    images = np.concatenate(parts)
    y = np.concatenate(labels)
    return images, y, None, splits


def _split(n: int, cfg: MedicalData, given: list[str], labelled: bool) -> dict[str, np.ndarray]:
    if any(given):
        return {
            s: np.array([i for i, g in enumerate(given) if g == s], dtype=np.int64) for s in SPLITS
        }
    if not labelled:
        return {"train": np.arange(n)}
    order = np.random.default_rng(cfg.split_seed).permutation(n)
    n_test = round(cfg.test_fraction * n) if n >= 3 else 0
    n_val = round(cfg.val_fraction * n) if n >= 3 else 0
    return {
        "test": np.sort(order[:n_test]),
        "val": np.sort(order[n_test : n_test + n_val]),
        "train": np.sort(order[n_test + n_val :]),
    }


def _from_files(cfg: MedicalData, listing: Listing, state: dict | None):
    items = listing.files
    dims = listing.spatial_dims
    size = tuple(state["size"]) if state else _size(cfg, dims, None)
    masks_given = [("mask" in it) for it in items]
    if any(masks_given) and not all(masks_given):
        missing = next(it["image"] for it, m in zip(items, masks_given) if not m)
        raise DataError(
            f"some rows have a mask and {missing} has none", path=listing.source, column="mask"
        )
    has_mask = all(masks_given)
    transform = pipeline.file_transforms(cfg, dims, size, has_mask)
    key = hashlib.sha256(repr((cfg, size, dims, has_mask)).encode()).hexdigest()[:16]
    records = [{k: it[k] for k in ("image", "mask") if k in it} for it in items]
    out = pipeline.run_files(records, transform, cfg.cache, key)
    images = np.stack([np.asarray(o["image"], dtype=np.float32) for o in out])
    masks = np.stack([np.asarray(o["mask"]).round() for o in out]) if has_mask else None
    raw = [it.get("label", []) for it in items]
    width = max((len(r) for r in raw), default=0)
    labels = None
    if width:
        labels = np.array([r if len(r) == width else [np.nan] * width for r in raw], np.float64)
    labelled = labels is not None and bool(np.isfinite(labels).any())
    splits = _split(len(items), cfg, [it.get("split", "") for it in items], labelled)
    return images, labels, masks, splits


def _fingerprint(listing: Listing, cfg: MedicalData) -> str:
    h = hashlib.sha256(repr((cfg.size, cfg.window, cfg.orientation, cfg.spacing)).encode())
    src = Path(listing.source)
    if src.is_file():
        h.update(src.read_bytes())
    for it in listing.files:
        for k in ("image", "mask"):
            if k in it:
                p = Path(it[k])
                h.update(f"{p}:{p.stat().st_size if p.is_file() else 0}".encode())
    return h.hexdigest()[:16]


def load_data(config: MedicalData, state: dict[str, Any] | None = None) -> MedicalSet:
    path = resolve_path(config.path)
    listing = list_items(path, config.max_items)
    if listing.kind == "npz":
        images, labels, masks, splits = _from_npz(config, listing, state)
    else:
        images, labels, masks, splits = _from_files(config, listing, state)
    dims = images.ndim - 2
    info = {
        "spatial_dims": dims,
        "in_channels": int(images.shape[1]),
        "size": list(images.shape[2:]),
    }
    if state and int(state["in_channels"]) != info["in_channels"]:
        raise DataError(
            f"images have {info['in_channels']} channels; the run was trained on "
            f"{state['in_channels']}",
            path=path,
        )
    kind = _kind(config, labels)
    if kind == "none":
        labels = None
    splits = {s: v for s, v in splits.items() if len(v)}
    facts = {
        "source": str(path),
        "images": len(images),
        "splits": {s: len(v) for s, v in splits.items()},
        "kind": kind,
        "masks": masks is not None,
        "fingerprint": _fingerprint(listing, config),
    }
    new_state = dict(info)
    ids = np.arange(len(images))
    return MedicalSet(
        images, labels=labels, masks=masks, splits=splits, ids=ids, kind=kind,
        info=info, facts=facts, state=new_state,
    )  # fmt: skip
