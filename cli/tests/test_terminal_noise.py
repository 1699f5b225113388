"""A user sees sslkit's lines, not third-party warnings or log lines (sslkit.core.quiet)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import sys
    from sslkit.cli.main import run
    from sslkit.core.plugin import register
    from sslkit.testing.digits import plugin

    register(plugin)
    out = sys.argv[1]
    for args in (
        ["pretrain", "digits", "--out", out, "--max-steps", "2", "--epochs", "1", "--quiet"],
        ["export", out + "/digits-simclr", "--to", "onnx"],
    ):
        code = run(args)
        if code:
            sys.exit(code)
    """
)
# torch's own log format ("W1201 12:08:51.923000 10581 torch/onnx/...] ...") and warnings
THIRD_PARTY = re.compile(r"^[IWEF]\d{4} \d\d:\d\d|Warning|warnings\.warn|torchvision")


def test_pretrain_and_onnx_export_print_only_sslkits_lines(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (done.stdout + done.stderr).splitlines()
    assert (tmp_path / "digits-simclr" / "export" / "onnx" / "encoder.onnx").is_file()
    noise = [line for line in lines if THIRD_PARTY.search(line)]
    assert noise == [], noise
    assert any(line.startswith("exported onnx to") for line in lines), lines
