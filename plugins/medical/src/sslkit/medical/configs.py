"""Config dataclasses of the medical plugin: ``[data]``, the encoder options and one
``[method]`` class per method.

Plain dataclasses, no torch and no MONAI: ``sslkit plugins`` and ``--help`` read them without
importing a heavy library. The attribute docstring under a field is its ``--help`` text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sslkit.core.method_config import MethodOptions

Window = Literal[
    "auto", "none", "uint8", "minmax", "percentile", "ct-abdomen", "ct-lung", "ct-bone",
    "ct-brain", "ct-monai-ssl",
]  # fmt: skip
Arch = Literal["resnet10", "resnet18", "resnet50", "vit", "swin", "unet"]


@dataclass
class MedicalData:
    """``[data]``: where the images come from and the deterministic preprocessing (MONAI
    dictionary transforms, cached: in memory, or on disk with ``cache=disk``)."""

    path: str = ""
    """A MedMNIST-style .npz ({train,val,test}_{images,labels}), a NIfTI file (.nii,
    .nii.gz), a DICOM series folder, a folder of NIfTI / PNG / JPEG files or DICOM series
    folders, a CSV manifest (columns image, optional label, mask, split), an embedded data set
    (adrenalmnist3d), or "" for the embedded AdrenalMNIST3D 28^3."""
    size: tuple[int, ...] = ()
    """Fixed spatial size after preprocessing (one number per axis; one number: every axis).
    Empty: a .npz keeps its own size; files get 64^3 (3-D) or 128^2 (2-D)."""
    fit: Literal["resize", "pad_crop"] = "resize"
    """How an image reaches the fixed size: resize (trilinear / bilinear, nearest for masks) or
    pad_crop (centred padding or cropping, no interpolation)."""
    orientation: str = "RAS"
    """Axis codes every 3-D volume is reoriented to (MONAI Orientationd); "" keeps the file's."""
    spacing: tuple[float, ...] = ()
    """Resample 3-D volumes to this voxel spacing in mm (MONAI Spacingd); empty: keep."""
    window: Window = "auto"
    """Intensity window to 0..1: ct-abdomen (W400 L40), ct-lung (W1500 L-600), ct-bone
    (W1800 L400), ct-brain (W80 L40), ct-monai-ssl (-57..164, MONAI's SSL tutorial) in
    Hounsfield units; percentile (the percentiles below, for MR); uint8 (divide by 255);
    minmax; none; auto: uint8 for 8-bit images, else percentile."""
    percentiles: tuple[float, float] = (0.5, 99.5)
    """Lower and upper percentiles of the percentile window."""
    crop_foreground: bool = False
    """Crop each image to its foreground (intensity above 0 after the window) before the
    fixed size (MONAI CropForegroundd, margin 2)."""
    cache: Literal["memory", "disk"] = "memory"
    """Where the preprocessed images are kept: memory (computed once a run), or disk (MONAI
    PersistentDataset under $SSLKIT_CACHE/medical: a second run reads them back)."""
    task: Literal["auto", "binary", "multiclass", "multilabel"] = "auto"
    """What the labels are: auto takes multilabel for several label columns, else binary or
    multiclass by the number of classes."""
    val_fraction: float = 0.1
    """Share of the labelled images held out for validation when the data has no split."""
    test_fraction: float = 0.2
    """Share held out for test when the data has no split."""
    split_seed: int = 0
    """Seed of the random split of data without one."""
    max_items: int = 0
    """Read at most this many images per split (0: all)."""


@dataclass
class EncoderOptions(MethodOptions):
    """The encoder every method builds (MONAI networks, 2-D or 3-D as the data)."""

    arch: Arch = "resnet18"
    """resnet10 / resnet18 / resnet50 (MONAI ResNet), vit (MONAI ViT blocks, as ViTAutoEnc's
    encoder), swin (the SwinUNETR encoder), unet (MONAI BasicUNet encoder-decoder)."""
    width: int = 64
    """Channels of the first stage (ResNet, UNet: 64 is the papers'; 16 is a CPU preset),
    or the ViT's hidden size / the Swin feature size."""
    depth: int = 0
    """ViT blocks (0: 12); ignored by the others."""
    heads: int = 0
    """ViT attention heads (0: hidden size / 64, at least 1)."""
    patch: int = 16
    """ViT patch size per axis (must divide the image size; MONAI's recipe: 16)."""


@dataclass
class SimCLRConfig(EncoderOptions):
    """SimCLR on 2-D or 3-D views made with MONAI random transforms."""

    proj_dim: int = 128
    """Output width of the projection head."""
    proj_hidden: int = 512
    """Hidden width of the projection head."""
    temperature: float = 0.1
    """NT-Xent temperature."""
    crop_scale: float = 0.6
    """Smallest side of the random crop, as a fraction of the image side (then resized back)."""
    rotate: float = 15.0
    """Largest random rotation in degrees about each axis."""
    intensity: float = 0.1
    """Largest random intensity shift and scale."""
    noise: float = 0.02
    """Standard deviation of the random Gaussian noise."""


@dataclass
class MonaiSSLConfig(EncoderOptions):
    """MONAI's self-supervised recipe (ViTAutoEnc): L1 reconstruction plus a contrastive loss
    between the reconstructions of two views."""

    arch: Arch = "vit"
    width: int = 768
    depth: int = 12
    temperature: float = 0.05
    """Temperature of the contrastive loss (0.05 in MONAI's script)."""
    holes: int = 6
    """Coarse-dropout holes of each view (in- and out-painting)."""
    hole_size: float = 0.16
    """Smallest hole side as a fraction of the image side (MONAI: 5 of 96 in-painting, 20 of
    96 out-painting; the out-painting holes are 4x larger)."""
    shuffle_holes: int = 10
    """Regions swapped by the local-shuffle transform (RandCoarseShuffled, probability 0.8)."""
    shuffle_size: float = 0.08
    """Side of a shuffled region as a fraction of the image side (MONAI: 8 of 96)."""
    deconv_chns: int = 16
    """Channels of the first transposed convolution of the decoder."""


@dataclass
class MAEConfig(EncoderOptions):
    """Masked autoencoder on 2-D or 3-D patches."""

    arch: Arch = "vit"
    width: int = 192
    depth: int = 6
    patch: int = 4
    mask_ratio: float = 0.75
    """Share of the patches hidden from the encoder."""
    decoder_width: int = 128
    """Width of the decoder's transformer."""
    decoder_depth: int = 2
    """Blocks of the decoder."""
    norm_pixels: bool = True
    """Reconstruct each patch standardised by its own mean and variance (the paper's choice)."""


@dataclass
class GlobalLocalConfig(EncoderOptions):
    """Global (partition-aware) and local contrast, as Chaitanya et al. 2020, on a UNet."""

    arch: Arch = "unet"
    width: int = 8
    partitions: int = 4
    """Partitions of each volume along its last axis (RAS: inferior to superior); sub-volumes
    from the same partition of different volumes are positives of each other."""
    crop: float = 0.5
    """Side of the sub-volume a view is cut from, as a fraction of the image (resized back)."""
    proj_dim: int = 128
    """Output width of the global projection head."""
    temperature: float = 0.1
    """Temperature of both contrastive losses."""
    local_levels: int = 2
    """Decoder blocks trained by the local loss (1: the deepest; 2: one more, a quarter of the
    image size per axis)."""
    local_region: int = 2
    """Side, in feature-map voxels, of a local region (averaged into one local embedding)."""
    intensity: float = 0.1
    """Largest random intensity shift and scale of the views (intensity only: the local loss
    compares the same voxels of two views)."""
