"""Fine-tuning with Hu et al.'s protocol: the masked loss by hand, the best-val epoch rule,
and fine-tuned models well above chance (BBBP, random split) and below the predict-the-mean
RMSE (ESOL)."""

from __future__ import annotations

import math

import numpy as np
import torch

from sslkit.molecules.configs import AttrMaskConfig, MoleculeData
from sslkit.molecules.data import load_data
from sslkit.molecules.encoders import build_encoder
from sslkit.molecules.finetune import (
    FineTuneOptions,
    _best,
    fine_tune,
    masked_bce,
    masked_mse,
    score,
    untrained_like,
)


def test_masked_bce_is_hu_et_al_s_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    # present labels: (0.0 -> 1), (-1.0 -> 0), (0.5 -> 1); the missing one adds nothing
    by_hand = (math.log(2) + math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-0.5))) / 3
    assert abs(float(masked_bce(logits, y)) - by_hand) < 1e-6
    pred = torch.tensor([[1.0, 5.0], [2.0, -1.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan")], [2.5, 1.0]])
    loss = masked_mse(pred, target)
    assert abs(float(loss.detach()) - (1.0 + 0.25 + 4.0) / 3) < 1e-6
    loss.backward()
    assert pred.grad[0, 1] == 0  # a missing label pulls nothing


def test_scores_and_the_best_val_epoch():
    y = np.array([[1, 0], [0, np.nan], [1, 1], [0, 1]], dtype=float)
    p = np.array([[0.9, 0.2], [0.1, 0.5], [0.8, 0.1], [0.3, 0.7]])
    # task 0: perfect (1.0); task 1: labels 0, 1, 1 with scores 0.2, 0.1, 0.7 -> 1 of 2 pairs;
    # RMSE: task 0 sqrt((0.01 + 0.01 + 0.04 + 0.09) / 4), task 1 sqrt((0.04 + 0.81 + 0.09) / 3)
    assert score(p, y, "classification") == (1.0 + 0.5) / 2
    assert abs(score(p, y, "regression") - np.mean([0.1936492, 0.5597619])) < 1e-6
    history = [{"epoch": 1, "val": 0.7}, {"epoch": 2, "val": 0.8}, {"epoch": 3, "val": 0.8}]
    assert _best(history, lower=False)["epoch"] == 2 and _best(history, lower=True)["epoch"] == 1


def _encoder(data):
    torch.manual_seed(0)
    return build_encoder(AttrMaskConfig(hidden_dim=16, num_layers=2), data.info)


def test_fine_tuned_on_bbbp_is_far_above_chance():
    data = load_data(MoleculeData(split="random", pretrain_data="self"))
    out = fine_tune(_encoder(data), data, FineTuneOptions(epochs=3))
    assert out["metric"] == "roc_auc" and out["test_at_best_val"] > 0.7, out["history"]
    assert 1 <= out["best_epoch"] <= 3 and len(out["history"]) == 3
    assert out["lr"] == 1e-3  # Hu et al.'s rate for the GIN


def test_fine_tuned_on_esol_beats_predicting_the_mean():
    data = load_data(MoleculeData(path="esol", pretrain_data="self"))
    encoder = _encoder(data)
    before = [p.detach().clone() for p in encoder.parameters()]
    out = fine_tune(encoder, data, FineTuneOptions(epochs=5))
    y = data.labels[:, 0]
    train_mean = y[data.split_index("train")].mean()
    mean_rmse = np.sqrt(np.mean((y[data.split_index("test")] - train_mean) ** 2))  # 2.31
    assert out["metric"] == "rmse" and out["test_at_best_val"] < 0.85 * mean_rmse, out
    # the encoder given is copied, not trained in place; the untrained twin differs from it
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    twin = untrained_like(encoder, seed=1)
    assert not torch.equal(twin.gnn.atom.tables[0].weight, encoder.gnn.atom.tables[0].weight)


def test_the_gin_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    from sslkit.molecules.encoders import dropout

    h = torch.rand(400, 300) + 1.0  # no zero before dropout
    out = dropout(h, 0.5, training=True)
    dropped = out == 0
    assert abs(dropped.float().mean().item() - 0.5) < 0.01  # 120,000 draws: std 0.0014
    assert torch.allclose(out[~dropped], 2.0 * h[~dropped])
    assert torch.equal(dropout(h, 0.5, training=False), h)
    assert torch.equal(dropout(h, 1.0, training=True), torch.zeros_like(h))
