"""Loaders: where a marked voxel lands after RAS reorientation (NIfTI and DICOM), the MedMNIST
.npz, PNG folders, CSV manifests, the cache on disk, and bad input as one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from sslkit.core.errors import DataError
from sslkit.medical.configs import MedicalData
from sslkit.medical.data import load_data

FIXTURES = Path(__file__).parent / "fixtures"
NIFTI = FIXTURES / "anatomical.nii"  # MONAI's 33x41x25 MRI, 2 mm voxels, stored LAS
NIFTI_LABEL = FIXTURES / "anatomical_label.nii.gz"
DICOM = FIXTURES / "CT_DICOM"  # MONAI's 4-slice axial CT series, 16x16 pixels


def _manifest(tmp_path, rows: list[str], header: str = "image,mask,label,split"):
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_nifti_label_voxels_land_mirrored_on_the_first_axis_in_ras(tmp_path):
    # the file is LAS (affine x step -2 mm): RAS reverses the first axis, i -> 32 - i
    assert nib.aff2axcodes(nib.load(NIFTI).affine) == ("L", "A", "S")
    raw = np.asarray(nib.load(NIFTI_LABEL).dataobj)
    marked = {tuple(v) for v in np.argwhere(raw > 0)}
    path = _manifest(tmp_path, [f"{NIFTI},{NIFTI_LABEL},,"], "image,mask,label,split")
    cfg = MedicalData(path=str(path), size=(33, 41, 25), fit="pad_crop", window="none")
    data = load_data(cfg)
    assert tuple(data.images.shape) == (1, 1, 33, 41, 25)
    got = {tuple(v) for v in np.argwhere(data.masks[0, 0].numpy() > 0)}
    assert got == {(32 - i, j, k) for i, j, k in marked}
    # the image moved with its mask: its voxel values are the file's, mirrored
    image = np.asarray(nib.load(NIFTI).dataobj, dtype=np.float32)
    np.testing.assert_array_equal(data.images[0, 0].numpy(), image[::-1])
    kept = load_data(MedicalData(path=str(path), size=(33, 41, 25), fit="pad_crop",
                                 window="none", orientation=""))  # fmt: skip
    assert {tuple(v) for v in np.argwhere(kept.masks[0, 0].numpy() > 0)} == marked


def test_a_marked_dicom_pixel_lands_where_the_patient_axes_say(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    series = tmp_path / "series"
    shutil.copytree(DICOM, series)
    ds = pydicom.dcmread(series / "7106")  # the lowest slice (z = -99.48 mm)
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    pixels = ds.pixel_array.copy()
    pixels[2, 3] = 3000  # row 2 (posterior direction), column 3 (patient's left direction)
    ds.PixelData = pixels.tobytes()
    ds.save_as(series / "7106")
    cfg = dict(path=str(series), size=(16, 16, 4), fit="pad_crop", window="none")
    ras = load_data(MedicalData(**cfg)).images[0, 0]
    # RAS: x runs to the right (column 3 from the left edge -> 15 - 3), y to the front
    # (row 2 from the back -> 15 - 2), z upwards (the lowest slice first)
    assert np.unravel_index(int(ras.argmax()), ras.shape) == (12, 13, 0)
    assert float(ras.max()) == 3000 - 1024  # rescale intercept -1024: Hounsfield units
    lps = load_data(MedicalData(**cfg, orientation="LPS")).images[0, 0]
    assert np.unravel_index(int(lps.argmax()), lps.shape) == (3, 2, 0)


def test_ct_window_maps_hounsfield_units_to_0_1():
    data = load_data(MedicalData(path=str(DICOM), size=(16, 16, 4), window="ct-abdomen",
                                 fit="pad_crop"))  # fmt: skip
    raw = load_data(MedicalData(path=str(DICOM), size=(16, 16, 4), window="none",
                                fit="pad_crop")).images  # fmt: skip
    expected = ((raw + 160.0) / 400.0).clamp(0, 1)
    np.testing.assert_allclose(data.images.numpy(), expected.numpy(), atol=1e-6)


def test_embedded_adrenalmnist3d_keeps_its_splits_and_labels():
    data = load_data(MedicalData())
    assert data.facts["splits"] == {"train": 1188, "val": 98, "test": 298}
    assert tuple(data.images.shape[1:]) == (1, 28, 28, 28)
    assert data.kind == "binary"
    with np.load(data.facts["source"]) as z:
        np.testing.assert_allclose(data.images[0, 0].numpy(), z["train_images"][0] / 255.0,
                                   atol=1e-6)  # fmt: skip
        assert (data.labels[:1188, 0] == z["train_labels"][:, 0]).all()
    small = load_data(MedicalData(size=(16,), max_items=5))
    assert tuple(small.images.shape) == (15, 1, 16, 16, 16)


def test_a_2d_rgb_npz_and_a_png_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 28, 28, 3), dtype=np.uint8)
    np.savez(tmp_path / "pics.npz", train_images=x, train_labels=np.arange(6).reshape(6, 1) % 3)
    data = load_data(MedicalData(path=str(tmp_path / "pics.npz")))
    assert tuple(data.images.shape) == (6, 3, 28, 28) and data.kind == "multiclass"
    np.testing.assert_allclose(data.images[2, 1].numpy(), x[2, :, :, 1] / 255.0, atol=1e-6)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(x[i, :, :, 0]).save(folder / f"{i}.png")
    pngs = load_data(MedicalData(path=str(folder), size=(28, 28), window="uint8"))
    assert tuple(pngs.images.shape) == (3, 1, 28, 28)
    assert pngs.info["spatial_dims"] == 2


def test_manifest_labels_splits_and_the_disk_cache(tmp_path):
    rows = [f"{NIFTI},,{i % 2},{'train' if i < 4 else 'test'}" for i in range(6)]
    path = _manifest(tmp_path, rows, "image,mask,label,split")
    cfg = MedicalData(path=str(path), size=(16,), cache="disk")
    data = load_data(cfg)
    assert data.facts["splits"] == {"train": 4, "test": 2}
    assert list(data.labels[:, 0]) == [0, 1, 0, 1, 0, 1]
    again = load_data(cfg)  # read back from MONAI's PersistentDataset
    assert any((tmp_path.parent / "sslkit-cache").rglob("*.pt"))
    np.testing.assert_array_equal(again.images.numpy(), data.images.numpy())


def test_truncated_nifti_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "broken.nii"
    bad.write_bytes(NIFTI.read_bytes()[:1000])
    with pytest.raises(DataError) as e:
        load_data(MedicalData(path=str(bad)))
    assert str(bad) in str(e.value) and "cannot read the image" in str(e.value)
    assert "\n" not in str(e.value)


def test_unreadable_dicom_folder_is_one_line(tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    (series / "a.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage" * 10)
    with pytest.raises(DataError) as e:
        load_data(MedicalData(path=str(series)))
    assert str(series) in str(e.value) and "DICOM series folder" in str(e.value)


def test_image_and_mask_of_different_shapes_name_both(tmp_path):
    mask = tmp_path / "small_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 12, 14), np.uint8), np.eye(4)), mask)
    path = _manifest(tmp_path, [f"{NIFTI},{mask},,"])
    with pytest.raises(DataError) as e:
        load_data(MedicalData(path=str(path)))
    text = str(e.value)
    assert str(NIFTI) in text and str(mask) in text
    assert "33x41x25" in text and "10x12x14" in text


def test_manifest_with_a_missing_file_names_row_and_column(tmp_path):
    path = _manifest(tmp_path, [f"{NIFTI},,0,train", "nowhere.nii.gz,,1,train"])
    with pytest.raises(DataError) as e:
        load_data(MedicalData(path=str(path)))
    assert "row 3" in str(e.value) and "column 'image'" in str(e.value)
    assert "nowhere.nii.gz" in str(e.value)


def test_bad_input_through_the_cli_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    res = subprocess.run(
        [sys.executable, "-m", "sslkit.cli", "pretrain", "medical", "--data", str(bad),
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0], res.stderr
