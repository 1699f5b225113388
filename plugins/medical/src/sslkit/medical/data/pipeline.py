"""The deterministic preprocessing: MONAI dictionary transforms, run once per image and cached.

Files go through ``LoadImaged`` (NIfTI with nibabel, DICOM series with pydicom, PNG/JPEG with
PIL; channel first) -> a shape check of image against mask -> ``Orientationd`` (RAS by
default, 3-D) -> ``Spacingd`` (optional) -> the intensity window (``ScaleIntensityRanged`` for
the CT presets, ``ScaleIntensityRangePercentilesd`` for MR) -> ``CropForegroundd``
(optional) -> ``Resized`` or ``ResizeWithPadOrCropd`` to the fixed size. Masks follow every
spatial step with nearest-neighbour interpolation. With ``cache=disk`` the results go through
MONAI's ``PersistentDataset`` (keyed by the transforms and the file), so a later run, an
``evaluate`` or an ``export`` reads them back instead of reading the scans again.

Errors of a library are turned into one :class:`~sslkit.core.errors.DataError` naming the
file: a corrupt or truncated NIfTI, an unreadable DICOM folder, an image and a mask of
different shapes (both files and both shapes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.medical.monai_quiet import quiet_monai

quiet_monai()
from monai.transforms import Transform  # noqa: E402

CT_WINDOWS = {  # Hounsfield units (level - width / 2, level + width / 2)
    "ct-abdomen": (-160.0, 240.0),  # W400 L40
    "ct-lung": (-1350.0, 150.0),  # W1500 L-600
    "ct-bone": (-500.0, 1300.0),  # W1800 L400
    "ct-brain": (0.0, 80.0),  # W80 L40
    "ct-monai-ssl": (-57.0, 164.0),  # MONAI's self-supervised tutorial
}
RAS_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


class MaskShapeError(ValueError):
    """Raised inside the transform chain when an image and its mask differ in shape."""

    def __init__(self, image: tuple[int, ...], mask: tuple[int, ...]):
        super().__init__(f"image {image} vs mask {mask}")
        self.image, self.mask = image, mask


class CheckMaskShape(Transform):
    """A deterministic MONAI transform (cached with the rest by PersistentDataset): the mask's
    spatial shape must be the image's, before any resampling could hide the mismatch."""

    def __call__(self, d: dict[str, Any]) -> dict[str, Any]:
        if "mask" in d:
            a, b = tuple(d["image"].shape[1:]), tuple(d["mask"].shape[1:])
            if a != b:
                raise MaskShapeError(a, b)
        return d


def window_transform(window: str, keys: list[str], percentiles: tuple[float, float]) -> Any:
    from monai.transforms import (
        ScaleIntensityd,
        ScaleIntensityRanged,
        ScaleIntensityRangePercentilesd,
    )

    if window in CT_WINDOWS:
        lo, hi = CT_WINDOWS[window]
        return ScaleIntensityRanged(keys, a_min=lo, a_max=hi, b_min=0.0, b_max=1.0, clip=True)
    if window == "uint8":
        return ScaleIntensityRanged(keys, a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0, clip=True)
    if window == "minmax":
        return ScaleIntensityd(keys, minv=0.0, maxv=1.0)
    if window == "percentile":
        lo, hi = percentiles
        return ScaleIntensityRangePercentilesd(
            keys, lower=lo, upper=hi, b_min=0.0, b_max=1.0, clip=True
        )
    return None  # "none"


def size_transform(fit: str, keys: list[str], size: tuple[int, ...]) -> Any:
    from monai.transforms import Resized, ResizeWithPadOrCropd

    if fit == "pad_crop":
        return ResizeWithPadOrCropd(keys, spatial_size=size)
    modes = ["area" if k == "image" else "nearest" for k in keys]
    return Resized(keys, spatial_size=size, mode=modes)


def file_transforms(cfg: Any, dims: int, size: tuple[int, ...], has_mask: bool) -> Any:
    """The MONAI ``Compose`` of the deterministic steps for file items."""
    quiet_monai()
    from monai.transforms import (
        Compose,
        CropForegroundd,
        EnsureTyped,
        LoadImaged,
        Orientationd,
        Spacingd,
    )

    keys = ["image", "mask"] if has_mask else ["image"]
    steps: list[Any] = [LoadImaged(keys, image_only=True, ensure_channel_first=True)]
    steps.append(CheckMaskShape())
    if dims == 3 and cfg.orientation:
        steps.append(Orientationd(keys, axcodes=cfg.orientation, labels=RAS_LABELS))
    if dims == 3 and cfg.spacing:
        pixdim = tuple(cfg.spacing) * (3 if len(cfg.spacing) == 1 else 1)
        modes = ["bilinear" if k == "image" else "nearest" for k in keys]
        steps.append(Spacingd(keys, pixdim=pixdim, mode=modes))
    window = "percentile" if cfg.window == "auto" else cfg.window
    w = window_transform(window, ["image"], tuple(cfg.percentiles))
    if w is not None:
        steps.append(w)
    if cfg.crop_foreground:
        steps.append(CropForegroundd(keys, source_key="image", margin=2, allow_smaller=True))
    steps.append(size_transform(cfg.fit, keys, size))
    steps.append(EnsureTyped(keys, dtype=None, track_meta=False))
    return Compose(steps)


def _root_cause(e: BaseException) -> BaseException:
    seen = e
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or isinstance(seen, MaskShapeError):
            return seen
        seen = nxt


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def read_error(item: dict[str, Any], e: BaseException) -> DataError:
    """One line for what went wrong reading ``item``."""
    cause = _root_cause(e)
    if isinstance(cause, MaskShapeError):
        return DataError(
            f"image and mask differ in shape: image {item['image']} is {_fmt(cause.image)}, "
            f"mask {item['mask']} is {_fmt(cause.mask)}",
            hint="a mask must have its image's voxel grid",
        )
    image = Path(item["image"])
    what = "DICOM series folder" if image.is_dir() else "image"
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if "mask" in item and item["mask"] in reason:
        image, what = Path(item["mask"]), "mask"
    return DataError(
        f"cannot read the {what} ({type(cause).__name__}: {reason[:160]})",
        path=image,
        hint="is the file complete? NIfTI .nii/.nii.gz, a folder of one DICOM series, PNG/JPEG",
    )


def run_files(
    items: list[dict[str, Any]], transform: Any, cache: str, key: str
) -> list[dict[str, Any]]:
    """Every item through ``transform`` (``cache=disk``: MONAI's PersistentDataset under the
    sslkit cache), as dicts of tensors; any failure is one DataError naming the file."""
    from monai.data import Dataset, PersistentDataset

    from sslkit.core.data import cache_dir

    if cache == "disk":
        folder = cache_dir("medical") / "persistent" / key
        folder.mkdir(parents=True, exist_ok=True)
        ds: Any = PersistentDataset(items, transform, cache_dir=folder)
    else:
        ds = Dataset(items, transform)
    out = []
    for i, item in enumerate(items):
        try:
            out.append(ds[i])
        except Exception as e:  # a library's error: reported as one line naming the file
            raise read_error(item, e) from e
    return out


def array_transforms(cfg: Any, rgb: bool, native: tuple[int, ...], size: tuple[int, ...]) -> Any:
    """The MONAI ``Compose`` for in-memory arrays (a MedMNIST .npz): channel first, the window
    (auto: uint8 for 8-bit volumes), the fixed size when it differs from the stored one."""
    quiet_monai()
    from monai.transforms import Compose, EnsureChannelFirstd, EnsureTyped

    steps: list[Any] = [EnsureChannelFirstd(["image"], channel_dim=0 if rgb else "no_channel")]
    window = "uint8" if cfg.window == "auto" else cfg.window
    w = window_transform(window, ["image"], tuple(cfg.percentiles))
    if w is not None:
        steps.append(w)
    if tuple(size) != tuple(native):
        steps.append(size_transform(cfg.fit, ["image"], size))
    steps.append(EnsureTyped(["image"], dtype=None, track_meta=False))
    return Compose(steps)


def is_rgb(x: np.ndarray) -> bool:
    """MedMNIST's colour pictures: ``(N, H, W, 3)``."""
    return x.ndim == 4 and x.shape[-1] == 3


def run_arrays(x: np.ndarray, transform: Any) -> np.ndarray:
    """``(N, *spatial[, 3])`` arrays through ``transform``: ``(N, C, *size)`` float32."""
    if is_rgb(x):  # (N, H, W, 3) pictures: channel first
        x = np.moveaxis(x, -1, 1)
    return np.stack(
        [transform({"image": v.astype(np.float32)})["image"].numpy() for v in x]
    ).astype(np.float32)
