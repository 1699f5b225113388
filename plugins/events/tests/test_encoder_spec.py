"""Every events method declares its encoder (the sequence encoder on the batch dict): the spec
rebuilds it from plain JSON, without the config or the data, and it embeds as ``embed`` does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslkit.events.configs import CoLESConfig, CPCConfig, MEMConfig
from sslkit.events.data import pad_batch
from sslkit.events.methods import coles, cpc, mem
from sslkit.testing import check_encoder_spec

INFO = {"cat_sizes": [7, 5], "num_fields": ["amount", "gap", "left"], "max_len": 24}


def _batch(lengths: list[int], seed: int = 0) -> dict:
    g = np.random.default_rng(seed)
    seqs = [(g.integers(1, 5, (n, 2)), g.normal(size=(n, 3)).astype(np.float32)) for n in lengths]
    return pad_batch(seqs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: coles.CoLES(CoLESConfig(encoder="gru", hidden=16), INFO),
        lambda: coles.CoLES(CoLESConfig(encoder="transformer", hidden=16, heads=2), INFO),
        lambda: mem.MEM(MEMConfig(hidden=16, heads=2), INFO),
        lambda: mem.MEM(MEMConfig(hidden=16, heads=2, mask_mode="field"), INFO),
        lambda: cpc.CPC(CPCConfig(encoder="gru", hidden=16), INFO),
        lambda: cpc.CPC(CPCConfig(encoder="transformer", hidden=16, heads=2), INFO),
    ],
    ids=["coles-gru", "coles-transformer", "mem", "mem-field", "cpc-gru", "cpc-transformer"],
)
def test_the_spec_rebuilds_the_encoder(make):
    torch.manual_seed(0)
    method = make()
    spec = check_encoder_spec(method, _batch([6, 1, 11, 3]))
    assert spec["build"] == "sslkit.events.encoders:sequence_embedder"
    kwargs = spec["kwargs"]
    assert kwargs["cat_sizes"] == INFO["cat_sizes"] and kwargs["n_num"] == 3
    assert kwargs["hidden"] == 16 and kwargs["max_positions"] == 24
    # only the encoder: no CPC target map, no MEM mask vector or heads
    assert all(k.startswith("encoder.") for k in method.embedder().state_dict())
