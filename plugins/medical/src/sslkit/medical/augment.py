"""Views made with MONAI random transforms, per example, in the DataLoader workers.

Each class is a small picklable callable ``transform(example, rng) -> example`` holding numbers
only (core contract v2). It builds its MONAI ``Compose`` once per process and, on every call,
seeds it from ``rng`` (``Compose.set_random_state``), so the views depend only on the run's
seed, the epoch and the example, with any number of workers and after a resume.

- :class:`ContrastViews` (SimCLR): random scaled crop resized back, flips on every axis,
  rotation, intensity shift and scale, Gaussian noise;
- :class:`RestorationViews` (MONAI's SSL recipe): two views, each one of coarse dropout
  in-painting (small holes filled) or out-painting (all but the holes filled), then coarse
  shuffle (local pixel shuffling within swapped regions);
- :class:`PartitionViews` (global-local): a sub-volume from a random partition along the last
  axis, resized back, in two intensity-only views, with the partition's index;
- :class:`PatchNoise` (MAE): one uniform number per patch, the masking noise.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sslkit.medical.monai_quiet import quiet_monai


def _seed(rng: torch.Generator) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=rng))


class _MonaiViews:
    """Builds ``self._compose()`` once per process (not pickled) and applies it seeded."""

    _built: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_built"}

    def _compose(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def pipeline(self) -> Any:
        if self._built is None:
            quiet_monai()
            self._built = self._compose()
        return self._built

    def view(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        t = self.pipeline()
        t.set_random_state(seed=_seed(rng))
        out = t(x.clone())  # MONAI's coarse dropout writes into its input
        out = out.as_tensor() if hasattr(out, "as_tensor") else torch.as_tensor(out)
        return out.to(torch.float32).contiguous()


class ContrastViews(_MonaiViews):
    def __init__(
        self, size: tuple[int, ...], crop_scale: float, rotate: float, intensity: float,
        noise: float, n_views: int = 2,
    ):  # fmt: skip
        self.size = tuple(int(s) for s in size)
        self.crop_scale, self.rotate = float(crop_scale), float(rotate)
        self.intensity, self.noise, self.n_views = float(intensity), float(noise), int(n_views)

    def _compose(self) -> Any:
        from monai.transforms import (
            Compose,
            RandFlip,
            RandGaussianNoise,
            RandRotate,
            RandScaleCrop,
            RandScaleIntensity,
            RandShiftIntensity,
            Resize,
        )

        dims = len(self.size)
        angle = math.radians(self.rotate)
        steps: list[Any] = []
        if self.crop_scale < 1.0:
            steps += [
                RandScaleCrop(roi_scale=self.crop_scale, max_roi_scale=1.0, random_size=True),
                Resize(self.size, mode="area"),
            ]
        steps += [RandFlip(prob=0.5, spatial_axis=a) for a in range(dims)]
        if angle > 0:
            ranges = {"range_x": angle, "range_y": angle if dims == 3 else 0.0}
            if dims == 3:
                ranges["range_z"] = angle
            steps.append(RandRotate(prob=0.5, keep_size=True, padding_mode="zeros", **ranges))
        if self.intensity > 0:
            steps += [
                RandShiftIntensity(offsets=self.intensity, prob=0.8),
                RandScaleIntensity(factors=self.intensity, prob=0.8),
            ]
        if self.noise > 0:
            steps.append(RandGaussianNoise(prob=0.5, std=self.noise))
        return Compose(steps)

    def __call__(self, example: tuple[torch.Tensor, ...], rng: torch.Generator):
        x = example[0]
        return (torch.stack([self.view(x, rng) for _ in range(self.n_views)]),)


def _side(fraction: float, size: tuple[int, ...], least: int = 1) -> tuple[int, ...]:
    return tuple(max(least, round(fraction * s)) for s in size)


class RestorationViews(_MonaiViews):
    """MONAI tutorial ``self_supervised_pretraining/vit_unetr_ssl``: in-painting holes of side
    5..32 of 96, out-painting holes of 20..64 of 96 (``OneOf``), coarse shuffle of 10 regions of
    8 of 96 with probability 0.8; sides scale with the image size."""

    def __init__(
        self, size: tuple[int, ...], holes: int, hole_size: float, shuffle_holes: int,
        shuffle_size: float,
    ):  # fmt: skip
        self.size = tuple(int(s) for s in size)
        self.holes, self.hole_size = int(holes), float(hole_size)
        self.shuffle_holes, self.shuffle_size = int(shuffle_holes), float(shuffle_size)

    def _compose(self) -> Any:
        from monai.transforms import Compose, OneOf, RandCoarseDropout, RandCoarseShuffle

        small = self.hole_size * 5 / 20  # MONAI: 5 (in-painting) and 20 (out-painting) of 96
        inpaint = RandCoarseDropout(
            holes=self.holes, spatial_size=_side(small, self.size), dropout_holes=True,
            max_spatial_size=_side(32 / 96, self.size), prob=1.0,
        )  # fmt: skip
        outpaint = RandCoarseDropout(
            holes=self.holes, spatial_size=_side(self.hole_size, self.size),
            dropout_holes=False, max_spatial_size=_side(64 / 96, self.size), prob=1.0,
        )  # fmt: skip
        shuffle = RandCoarseShuffle(
            holes=self.shuffle_holes, spatial_size=_side(self.shuffle_size, self.size, 2),
            prob=0.8,
        )  # fmt: skip
        return Compose([OneOf([inpaint, outpaint]), shuffle])

    def __call__(self, example: tuple[torch.Tensor, ...], rng: torch.Generator):
        x = example[0]
        return (torch.stack([x, self.view(x, rng), self.view(x, rng)]),)


class PatchNoise:
    """MAE's masking noise, one uniform number per patch (the lowest are kept)."""

    def __init__(self, patches: int):
        self.patches = int(patches)

    def __call__(self, example: tuple[torch.Tensor, ...], rng: torch.Generator):
        return (example[0], torch.rand(self.patches, generator=rng))


class PartitionViews(_MonaiViews):
    """Chaitanya et al. 2020's views, in 3-D: partition ``s`` of ``partitions`` along the last
    axis drawn at random, a sub-volume of side ``crop`` x size centred in that partition (the
    other axes at random), resized back to the image size, then two views of it with random
    intensity shift, scale and noise (no spatial change, so voxel k of one view is voxel k of the
    other). Returns the views and ``s``."""

    def __init__(self, size: tuple[int, ...], partitions: int, crop: float, intensity: float):
        self.size = tuple(int(s) for s in size)
        self.partitions, self.crop, self.intensity = int(partitions), float(crop), float(intensity)

    def _compose(self) -> Any:
        from monai.transforms import (
            Compose,
            RandGaussianNoise,
            RandScaleIntensity,
            RandShiftIntensity,
        )

        return Compose([
            RandShiftIntensity(offsets=self.intensity, prob=0.8),
            RandScaleIntensity(factors=self.intensity, prob=0.8),
            RandGaussianNoise(prob=0.5, std=0.02),
        ])  # fmt: skip

    def cut(self, x: torch.Tensor, part: int, rng: torch.Generator) -> torch.Tensor:
        import torch.nn.functional as F

        sides = [max(2, round(self.crop * s)) for s in self.size]
        starts = []
        for axis, (s, c) in enumerate(zip(self.size, sides)):
            if axis == len(self.size) - 1:  # the partition's axis: centre inside partition part
                lo, hi = part * s / self.partitions, (part + 1) * s / self.partitions
                centre = lo + float(torch.rand((), generator=rng)) * (hi - lo)
                start = round(centre - c / 2)
            else:
                start = int(torch.randint(0, s - c + 1, (1,), generator=rng))
            starts.append(min(max(start, 0), s - c))
        box = x[(slice(None), *[slice(a, a + c) for a, c in zip(starts, sides)])]
        mode = "trilinear" if len(self.size) == 3 else "bilinear"
        return F.interpolate(box[None], size=self.size, mode=mode, align_corners=False)[0]

    def __call__(self, example: tuple[torch.Tensor, ...], rng: torch.Generator):
        part = int(torch.randint(0, self.partitions, (1,), generator=rng))
        sub = self.cut(example[0], part, rng)
        views = torch.stack([self.view(sub, rng), self.view(sub, rng)])
        return (views, torch.tensor(part, dtype=torch.long))
