"""Reading a user's own audio: folders, manifests, mixed rates, stereo, bad and short files."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sslkit.core.errors import DataError
from sslkit.speech.augment import Crops
from sslkit.speech.configs import SpeechData
from sslkit.speech.data import load_data


def _tone(sr: int, seconds: float, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return 0.5 * np.sin(2 * np.pi * f * t)


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """Mixed sample rates and formats, a stereo file, a manifest with a speaker column."""
    root = tmp_path / "calls"
    root.mkdir()
    rows = ["path,speaker,label,split"]
    for i, (sr, fmt) in enumerate([(8000, "wav"), (22050, "flac"), (44100, "ogg"), (16000, "wav")]):
        for k in range(3):
            name = f"a{i}_{k}.{fmt}"
            sf.write(root / name, _tone(sr, 0.6, 200 + 100 * k), sr)
            rows.append(f"{name},spk{k},{'yes' if i % 2 else 'no'},{['train', 'dev', 'test'][k]}")
    left, right = _tone(16000, 0.5, 300), _tone(16000, 0.5, 500)
    sf.write(root / "stereo.wav", np.stack([left, right], 1), 16000)
    rows.append("stereo.wav,spk0,yes,train")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_a_manifest_with_mixed_rates_and_a_stereo_file(user_folder: Path) -> None:
    data = load_data(SpeechData(path=str(user_folder / "manifest.csv")))
    assert data.facts["files"] == 13
    assert data.facts["sample_rates"] == [8000, 16000, 22050, 44100]
    assert data.facts["stereo_mixed_down"] == 1
    # every file at 16 kHz: 0.6 s -> 9600 samples, whatever its own rate
    lengths = {len(w) for w, i in zip(data.waves, data.ids) if i != "stereo.wav"}
    assert lengths == {9600}
    stereo = data.waves[list(data.ids).index("stereo.wav")]
    want = (_tone(16000, 0.5, 300) + _tone(16000, 0.5, 500)) / 2
    np.testing.assert_allclose(stereo, want, atol=1e-4)  # 16-bit wav: the mean of channels
    assert data.state()["speakers"] == ["spk0", "spk1", "spk2"]
    assert list(data.speakers[data.split_index("val")]) == [1, 1, 1, 1]
    assert sorted(data.split_names()) == ["test", "train", "val"]
    batch = next(iter(data.eval_batches("train", 4)))
    assert batch.inputs["wave"].shape[0] == 4 and batch.labels is not None


def test_a_plain_folder_is_read_and_split(user_folder: Path) -> None:
    data = load_data(SpeechData(path=str(user_folder), dev_fraction=0.2, test_fraction=0.2))
    assert data.facts["files"] == 13 and data.labels is None and data.probe_label == "speaker"
    assert sum(len(v) for v in data.splits.values()) == 13


def test_fsdd_names_give_digit_speaker_and_the_official_split(tmp_path: Path) -> None:
    for digit, speaker, take in [(3, "ann", 0), (3, "ann", 7), (5, "bob", 12), (9, "bob", 4)]:
        sf.write(tmp_path / f"{digit}_{speaker}_{take}.wav", _tone(8000, 0.3), 8000)
    data = load_data(SpeechData(path=str(tmp_path)))
    assert data.facts["kind"] == "fsdd"
    split_of = {data.ids[i]: s for s, idx in data.splits.items() for i in idx}
    assert split_of == {
        "3_ann_0.wav": "test",
        "3_ann_7.wav": "val",
        "5_bob_12.wav": "train",
        "9_bob_4.wav": "test",
    }
    assert data.state()["labels"] == ["3", "5", "9"]
    assert list(data.labels) == [0, 0, 1, 2] and list(data.speakers) == [0, 0, 1, 1]


def test_corrupt_and_empty_files_are_named_skipped_and_counted(
    user_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (user_folder / "broken.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    sf.write(user_folder / "empty.flac", np.zeros(0), 16000)
    with caplog.at_level(logging.WARNING, logger="sslkit.speech"):
        data = load_data(SpeechData(path=str(user_folder)))
    assert data.facts["bad_skipped"] == 2 and data.facts["files"] == 13
    text = caplog.text
    assert "broken.wav" in text and "empty.flac" in text and "2 of 15" in text
    with pytest.raises(DataError) as err:
        load_data(SpeechData(path=str(user_folder), bad_files="error"))
    assert "broken.wav" in str(err.value)


def test_a_manifest_with_missing_files_names_the_first_and_counts(tmp_path: Path) -> None:
    sf.write(tmp_path / "ok.wav", _tone(16000, 0.3), 16000)
    (tmp_path / "m.csv").write_text("path\nok.wav\ngone1.wav\ngone2.wav\n")
    with pytest.raises(DataError) as err:
        load_data(SpeechData(path=str(tmp_path / "m.csv")))
    msg = str(err.value)
    assert "2 of 3 files" in msg and "gone1.wav" in msg


def test_a_manifest_without_a_path_column_or_with_a_bad_split(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("file,speaker\na.wav,x\n")
    with pytest.raises(DataError, match="no 'path' column"):
        load_data(SpeechData(path=str(tmp_path / "m.csv")))
    sf.write(tmp_path / "a.wav", _tone(16000, 0.3), 16000)
    (tmp_path / "m.csv").write_text("path,split\na.wav,holdout\n")
    with pytest.raises(DataError, match="unknown split 'holdout'"):
        load_data(SpeechData(path=str(tmp_path / "m.csv")))


def test_short_audio_is_counted_and_crops_are_deterministic(user_folder: Path) -> None:
    cfg = SpeechData(path=str(user_folder / "manifest.csv"), crop_seconds=0.55)
    data = load_data(cfg)
    assert data.facts["short_padded"] == 1  # the 0.5 s stereo file; the others last 0.6 s
    assert load_data(replace(cfg, crop_seconds=1.0)).facts["short_padded"] == 13
    wave = torch.arange(16000, dtype=torch.float32)
    crops = Crops(8000, views=2, fraction=0.25)
    a, n = crops(wave, torch.Generator().manual_seed(3))
    b, _ = crops(wave, torch.Generator().manual_seed(3))
    assert a.shape == (2, 4000) and n.tolist() == [4000, 4000] and torch.equal(a, b)
    assert all(torch.equal(v, torch.arange(v[0], v[0] + 4000)) for v in a)  # contiguous crops
    short, m = Crops(8000)(torch.ones(100), torch.Generator().manual_seed(0))
    assert short.shape == (100,) and int(m) == 100
