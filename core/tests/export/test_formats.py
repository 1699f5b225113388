"""The export format registry: request checks, the CLI's choices and the docs come from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sslkit.core.errors import UsageError
from sslkit.core.export.formats import FORMATS, help_text, metavar
from sslkit.core.export.request import check_request

DOCS = Path(__file__).resolve().parents[3] / "docs" / "export.md"


def test_the_registry_lists_every_format_in_order():
    assert list(FORMATS) == ["parquet", "npy", "faiss", "onnx", "safetensors"]
    assert [f.name for f in FORMATS.values() if f.streamed] == ["parquet", "npy", "faiss"]
    assert metavar() == "[parquet|npy|faiss|onnx|safetensors]"
    assert "faiss" in help_text() and "safetensors" in help_text()


def test_check_request_reads_the_registry():
    assert check_request("faiss", {"index": "hnsw", "metric": None}) is FORMATS["faiss"]
    with pytest.raises(UsageError, match="unknown export format 'arrow'; available: parquet, npy"):
        check_request("arrow", {})
    with pytest.raises(UsageError, match=r"'index' does not apply to --to npy \(only to faiss\)"):
        check_request("npy", {"index": "flat"})
    with pytest.raises(UsageError, match="nlist must be a non-negative integer"):
        check_request("faiss", {"nlist": -1})


def test_the_registry_is_light():
    """The CLI builds --to's help from it: importing it imports no torch, numpy or writer."""
    code = (
        "import sys, sslkit.core.export.formats; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'pyarrow')"
        " or m.startswith('sslkit.core.export.w')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not DOCS.is_file(), reason="docs/ is not beside the tests")
def test_the_docs_table_follows_the_registry():
    """docs/export.md's formats table: one row per format, in order, naming its files."""
    rows = re.findall(r"^\| `([a-z]+)` \| ([^|]*) \|", DOCS.read_text(encoding="utf-8"), re.M)
    assert [name for name, _ in rows] == list(FORMATS)
    for name, files in rows:
        assert re.findall(r"`([^`]+)`", files) == list(FORMATS[name].files), name
