"""The plugin contract: conformance kit, a light plugin module, the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sslkit.speech.plugin import plugin

TINY = [
    "method.dim=32",
    "method.layers=2",
    "method.heads=2",
    "method.n_mels=40",
    "train.batch_size=8",
    "data.crop_seconds=0.5",
    "data.max_seconds=1.0",
    "data.max_files=150",
]


@pytest.mark.conformance
def test_check_plugin(tmp_path: Path) -> None:
    from sslkit.testing import check_plugin

    reports = check_plugin(
        plugin,
        overrides=TINY,
        method_overrides={
            "hubert": ["method.clusters=20", "method.kmeans_frames=5000"],
            "bestrq": ["method.codebook_size=256"],
        },
        workdir=tmp_path,
    )
    assert (
        set(reports) == set(plugin.methods) == {"hubert", "bestrq", "data2vec", "dinosr", "speaker"}
    )
    for name, report in reports.items():
        superb = report["tasks"]["superb"]
        assert superb["label_accuracy_mfcc"] > 0.3, name  # ten digits: chance is 0.1


def test_plugin_module_imports_no_torch() -> None:
    code = "import sys, sslkit.speech.plugin; print('torch' in sys.modules, 'soundfile' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_missing_files_in_a_manifest_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,speaker\na.wav,x\nb.wav,y\n")
    env = {**os.environ, "SSLKIT_PLUGINS": "speech", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sslkit.cli",
            "pretrain",
            "speech",
            "--data",
            str(tmp_path / "m.csv"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2, out.stderr
    text = (out.stderr + out.stdout).strip()
    assert "Traceback" not in text
    assert "2 of 2 files" in text and "a.wav" in text, text
