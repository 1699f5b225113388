"""Every tabular method declares its encoder: the spec rebuilds it from plain JSON (no config
object, no data), with the weights ``embedder()`` holds, and it embeds as ``embed`` does."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
import torch

from sslkit.core.method_config import apply_nested
from sslkit.tabular.configs import SCARFConfig, TJEPAConfig, VIMEConfig
from sslkit.tabular.data import from_dataframe
from sslkit.tabular.methods import scarf, tjepa, vime
from sslkit.tabular.schema import SchemaWarning
from sslkit.testing import check_encoder_spec

SMALL = {"d_token": 8, "n_heads": 2, "n_layers": 1, "hidden_dim": 16, "out_dim": 8}


@pytest.fixture
def data(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        return from_dataframe(table, target="churn")


def batch_of(data, n=16):
    ds = data.train_dataset()
    return data.collate(ds.__getitems__(list(range(n))))


@pytest.mark.parametrize(
    "module, cfg",
    [
        (scarf, SCARFConfig(encoder="mlp", **SMALL)),
        (scarf, SCARFConfig(encoder="resnet", num_embedding="periodic", **SMALL)),
        (scarf, SCARFConfig(encoder="ft_transformer", matryoshka_dims=(4,), **SMALL)),
        (vime, VIMEConfig(encoder="mlp", **SMALL)),
        (vime, VIMEConfig(encoder="resnet", **SMALL)),
        (tjepa, TJEPAConfig(**SMALL)),
        (tjepa, TJEPAConfig(pooling="mean", num_embedding="periodic", **SMALL)),
        (tjepa, TJEPAConfig(embed_reg_tokens=False, matryoshka_dims=(4,), **SMALL)),
        (tjepa, TJEPAConfig(encoder="mlp", **SMALL)),
        (tjepa, TJEPAConfig(encoder="resnet", **SMALL)),
    ],
    ids=lambda v: getattr(v, "__name__", "").rsplit(".", 1)[-1] or None,
)
def test_the_spec_rebuilds_the_encoder(data, module, cfg):
    torch.manual_seed(0)
    method = apply_nested(module.build(cfg, data), cfg.matryoshka_dims)
    for p in method.parameters():  # trained-looking weights: not the fresh build's init
        p.data.add_(0.1 * torch.randn_like(p))
    if hasattr(method, "target"):  # the EMA target moves apart from the online encoder
        for p in method.target.module.parameters():
            p.data.add_(0.1 * torch.randn_like(p))
    spec = check_encoder_spec(method, batch_of(data))
    info = data.info
    assert spec["kwargs"]["n_num"] == info["n_num"]
    assert spec["kwargs"]["cardinalities"] == list(info["cardinalities"])
    assert spec["kwargs"]["options"]["encoder"] == cfg.encoder


def test_tjepa_exports_the_target_encoder(data):
    method = tjepa.build(replace(TJEPAConfig(**SMALL), encoder="mlp"), data)
    assert method.embedder() is method.target.module  # the EMA teacher, not the online encoder
    ft = tjepa.build(TJEPAConfig(**SMALL), data)
    assert ft.embedder().encoder is ft.target.module
    assert "predictor" not in str(sorted(ft.embedder().state_dict()))
