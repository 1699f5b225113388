"""The plugin end to end: the conformance kit for every method, the report's "did pretraining
pay?" section, fine-tuning beside the network from scratch, and segmentation with Dice on the
NIfTI sample and its label."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslkit.medical.plugin import plugin

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = ["data.max_items=16", "data.size=[16]", "train.batch_size=8"]
TINY_VIT = ["method.width=32", "method.depth=1", "method.patch=4"]


@pytest.mark.conformance
def test_conformance_kit_passes_for_every_method(tmp_path):
    from sslkit.testing import check_plugin

    reports = check_plugin(
        plugin,
        overrides=SMALL,
        method_overrides={
            "simclr": ["method.arch=resnet10", "method.width=4", "method.proj_hidden=16"],
            "monai-ssl": [*TINY_VIT, "method.deconv_chns=4"],
            "mae": [*TINY_VIT, "method.decoder_width=16", "method.decoder_depth=1"],
            "global-local": ["data.size=[32]", "method.width=4", "method.proj_dim=16"],
        },
        workdir=tmp_path / "runs",
    )
    assert set(reports) == {"simclr", "monai-ssl", "mae", "global-local"}


def test_report_says_whether_pretraining_paid(tmp_path):
    from sslkit.testing.payoff import pretrain_and_check

    options = ["data.max_items=60", "method.width=4", "train.max_steps=2", "train.batch_size=16"]
    report = pretrain_and_check(
        "medical", "simclr", options, tmp_path, "the raw voxels (downsampled to 8 per axis)"
    )
    task = report["tasks"]["classification"]
    assert task["kind"] == "binary" and task["n_train"] == 60


def _tiny_run(tmp_path, overrides):
    from sslkit.core import api

    return api.pretrain(
        "medical",
        "simclr",
        overrides=[*overrides, "train.max_steps=1", f"train.out={tmp_path}", "train.quiet=true"],
        log=lambda *_: None,
    )


def test_finetuning_beats_chance_and_reports_the_network_from_scratch(tmp_path):
    from sslkit.medical.configs import MedicalData
    from sslkit.medical.data import load_data
    from sslkit.medical.finetune import finetune, fresh_encoder

    res = _tiny_run(tmp_path, ["data.max_items=120", "method.width=4", "train.batch_size=16"])
    data = load_data(MedicalData(max_items=120))
    out = finetune(fresh_encoder(res.method, 0), data, epochs=3, min_steps=12, batch_size=32)
    # AdrenalMNIST3D's test split is 77% normal: chance AUC is 0.5, and a network that
    # learnt nothing predicts one class (ACC of the majority, AUC near 0.5)
    assert out["auc"] > 0.6, out
    assert out["best_epoch"] >= 1 and out["n_train"] == 120


def test_segmentation_on_the_nifti_sample_reports_dice(tmp_path):
    from sslkit.medical.segment import segment

    manifest = tmp_path / "seg.csv"
    manifest.write_text(
        f"image,mask\n{FIXTURES / 'anatomical.nii'},{FIXTURES / 'anatomical_label.nii.gz'}\n"
    )
    res = _tiny_run(
        tmp_path,
        [f"data.path={manifest}", "data.size=[32]", "method.arch=unet", "method.width=4",
         "train.batch_size=1"],
    )  # fmt: skip
    data = res.data
    assert data.masks is not None and int(data.masks.sum()) > 0
    trained = segment(res.method.embedder(), data, seed=0, steps=30, lr=1e-2)
    untrained = segment(res.method.embedder(), data, seed=0, steps=0)
    assert trained["scored_on"].startswith("train") and trained["labelled_images"] == 1
    assert trained["dice_class_1"] > 0.3 > untrained["dice_class_1"], (trained, untrained)
