"""In-memory data (``api.pretrain(domain, data=obj)``): descriptions, and a plugin without the
``from_memory`` hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sslkit.core.errors import UsageError
from sslkit.core.memory import describe, is_memory_object, is_memory_path, missing_data_error


def test_describe_names_the_kind_and_size():
    assert describe(np.zeros((1000, 12))) == "<in-memory ndarray 1000x12>"
    assert describe([1, 2, 3]) == "<in-memory list of 3>"
    assert describe(object()) == "<in-memory object>"

    class Graph:
        num_nodes, num_edges = 34, 156

    assert describe(Graph()) == "<in-memory Graph 34 nodes, 156 edges>"
    assert is_memory_path(describe(Graph())) and not is_memory_path("data/x.csv")
    assert is_memory_object([1]) and not is_memory_object("x.csv")
    assert not is_memory_object(Path("x.csv")) and not is_memory_object(None)


def test_missing_data_error_is_one_line():
    text = str(missing_data_error("the run r", "<in-memory DataFrame 3x2>"))
    assert "\n" not in text and "--data" in text and "<in-memory DataFrame 3x2>" in text


def test_a_plugin_without_the_hook_is_a_usage_error(tmp_path):
    from dataclasses import replace

    from sslkit.core import api
    from sslkit.core.plugin import register, unregister
    from sslkit.testing.digits import plugin

    assert plugin.from_memory is None
    # its own name: the session's digits registration (other tests') is left alone
    register(replace(plugin, name="nohook"))
    try:
        with pytest.raises(UsageError, match="domain 'nohook' takes no in-memory data"):
            api.pretrain(
                "nohook",
                data=np.zeros((10, 64)),
                overrides=[f"train.out={tmp_path}", "train.quiet=true"],
                log=lambda *_: None,
            )
    finally:
        unregister("nohook")
    assert list(tmp_path.iterdir()) == []  # refused before any run folder is made
