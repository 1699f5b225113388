"""The ``medical`` plugin object (entry point ``medical = "sslkit.medical.plugin:plugin"``).

Light on purpose: no torch, no MONAI here; everything heavy is a ``"module:attr"``.
"""

from __future__ import annotations

from sslkit.core.plugin import (
    Baseline,
    DatasetSpec,
    MethodSpec,
    Plugin,
    Registry,
    TaskSpec,
    distribution_version,
)
from sslkit.medical.configs import (
    GlobalLocalConfig,
    MAEConfig,
    MedicalData,
    MonaiSSLConfig,
    SimCLRConfig,
)

M = "sslkit.medical.methods"
T = "sslkit.medical.tasks"

plugin = Plugin(
    name="medical",
    version=distribution_version("sslkit-medical"),
    summary="Medical images, 2-D and 3-D, through MONAI (NIfTI, DICOM, MedMNIST .npz, PNG, CSV "
    "manifests): SimCLR, MONAI's SSL recipe, MAE; classification and segmentation",
    data_config=MedicalData,
    load_data="sslkit.medical.data:load_data",
    methods=Registry(
        "method",
        [
            MethodSpec(
                "simclr",
                SimCLRConfig,
                f"{M}.simclr:build",
                summary="NT-Xent between two views made by MONAI random transforms (crop, "
                "flip, rotation, intensity, noise)",
                paper="Chen et al., A Simple Framework for Contrastive Learning of Visual "
                "Representations, ICML 2020",
            ),
            MethodSpec(
                "monai-ssl",
                MonaiSSLConfig,
                f"{M}.monai_ssl:build",
                summary="ViTAutoEnc: L1 reconstruction of in-/out-painted and locally shuffled "
                "views plus a contrastive loss between the two reconstructions",
                paper="MONAI tutorial self_supervised_pretraining (after Chen et al., "
                "Self-supervised learning for medical image analysis using image context "
                "restoration, MedIA 2019)",
            ),
            MethodSpec(
                "mae",
                MAEConfig,
                f"{M}.mae:build",
                summary="reconstruct 75% hidden 2-D / 3-D patches from the visible ones",
                paper="He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022",
            ),
            MethodSpec(
                "global-local",
                GlobalLocalConfig,
                f"{M}.global_local:build",
                summary="UNet: partition-aware global contrast of sub-volumes, local contrast of "
                "decoder feature-map regions",
                paper="Chaitanya et al., Contrastive learning of global and local features for "
                "medical image segmentation with limited annotations, NeurIPS 2020",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "adrenalmnist3d",
                summary="MedMNIST v2 AdrenalMNIST3D 28^3 (adrenal gland shapes from CT, normal "
                "vs adrenal mass); the embedded default",
                source="MedMNIST v2 (Yang et al., Sci Data 10:41, 2023), adrenalmnist3d.npz",
                license="CC BY 4.0",
                rows="1,188 / 98 / 298 volumes (train / val / test), binary label",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "classification",
                f"{T}:classification",
                summary="logistic probe on frozen embeddings (C chosen on val): test ACC and "
                "AUC (binary, multi-class, multi-label)",
                probe=f"{T}:MEDICAL_PROBE",
                baseline=Baseline(
                    "the raw voxels (downsampled to 8 per axis)",
                    "sslkit.medical.baselines:raw_voxels",
                ),
            ),
            TaskSpec(
                "finetune",
                "sslkit.medical.finetune:finetune_task",
                summary="fine-tune encoder + linear head end to end (epoch chosen on val) "
                "beside the same network trained from scratch: test ACC and AUC",
                on_request=True,
            ),
            TaskSpec(
                "segmentation",
                "sslkit.medical.segment:segmentation_task",
                summary="fine-tune a UNet on the few images with masks, with and without the "
                "pretrained encoder: Dice per class (MONAI DiceMetric)",
                needs_labels=False,  # it needs masks, and says so when there are none
                on_request=True,
            ),
        ],
    ),
    default_method="simclr",
    default_task="classification",
    presets="sslkit.medical.presets",
)
