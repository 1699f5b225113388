"""Encoders, slices, the CoLES miner and losses against hand-written references, and training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from sslkit.events.augment import sample_slices
from sslkit.events.configs import CoLESConfig, CPCConfig, EventsData, MEMConfig
from sslkit.events.data import from_frame, pad_batch
from sslkit.events.encoders import SequenceEncoder
from sslkit.events.methods import coles, cpc, mem


def _batch(lengths: list[int], n_cat: int = 2, n_num: int = 3, seed: int = 0) -> dict:
    g = np.random.default_rng(seed)
    seqs = [
        (g.integers(2, 9, (n, n_cat)), g.normal(size=(n, n_num)).astype(np.float32))
        for n in lengths
    ]
    return pad_batch(seqs)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_padding_does_not_change_embeddings(kind: str) -> None:
    torch.manual_seed(0)
    enc = SequenceEncoder([10, 10], 3, encoder=kind, hidden=32, layers=2, heads=4).eval()
    batch = _batch([5, 1, 9, 3])
    with torch.no_grad():
        z = enc(batch["cats"], batch["nums"], batch["mask"])
        for i in range(4):
            n = int(batch["mask"][i].sum())
            alone = enc(
                batch["cats"][i : i + 1, :n],
                batch["nums"][i : i + 1, :n],
                batch["mask"][i : i + 1, :n],
            )
            torch.testing.assert_close(z[i : i + 1], alone, atol=1e-5, rtol=1e-5)


def test_packed_gru_equals_padded_gru() -> None:
    torch.manual_seed(0)
    enc = SequenceEncoder([10, 10], 3, encoder="gru", hidden=32, layers=2).eval()
    batch = _batch([5, 1, 9, 3])
    with torch.no_grad():
        packed = enc(batch["cats"], batch["nums"], batch["mask"])
        enc.pack = False
        padded = enc(batch["cats"], batch["nums"], batch["mask"])
    torch.testing.assert_close(packed, padded, atol=1e-6, rtol=1e-6)


def test_slices_are_contiguous_windows() -> None:
    lengths = [30, 4, 1, 12]
    batch = _batch(lengths, n_cat=1, n_num=1)
    # mark each event with its position so that slices can be located
    for i, n in enumerate(lengths):
        batch["nums"][i, :n, 0] = torch.arange(n, dtype=torch.float32) + 100 * i
    torch.manual_seed(0)
    out, owner = sample_slices(batch, count=6, min_len=3, max_len=8)
    assert owner.tolist() == [i for i in range(4) for _ in range(6)]
    sizes = out["mask"].sum(1)
    for r in range(len(owner)):
        i, size = int(owner[r]), int(sizes[r])
        n = lengths[i]
        assert min(3, n) <= size <= min(8, n)
        pos = out["nums"][r, :size, 0] - 100 * i
        assert torch.equal(pos, pos[0] + torch.arange(size, dtype=torch.float32))
        assert pos[0] >= 0 and pos[-1] < n
        assert (out["nums"][r, size:] == 0).all() and (out["cats"][r, size:] == 0).all()
    # a history shorter than min_len is used whole
    assert (sizes[owner == 2] == 1).all() and (sizes[owner == 1] >= 3).all()


def test_hard_negative_miner_matches_brute_force() -> None:
    torch.manual_seed(0)
    z = F.normalize(torch.randn(12, 5), dim=1)
    labels = torch.arange(4).repeat_interleave(3)
    a1, p, a2, n = coles.HardNegativePairMiner(neg_count=2)(z, labels)
    d = torch.cdist(z, z)
    expect_pos = {(i, j) for i in range(12) for j in range(12) if i != j and labels[i] == labels[j]}
    assert set(zip(a1.tolist(), p.tolist())) == expect_pos
    expect_neg = set()
    for i in range(12):
        cand = [(float(d[i, j]), j) for j in range(12) if labels[j] != labels[i]]
        expect_neg |= {(i, j) for _, j in sorted(cand)[:2]}
    assert set(zip(a2.tolist(), n.tolist())) == expect_neg


def test_coles_margin_loss_matches_reference() -> None:
    torch.manual_seed(0)
    z = F.normalize(torch.randn(4, 3, 6), dim=-1)  # 4 entities x 3 slices
    cfg = CoLESConfig(margin=0.5, neg_count=3)
    info = {"cat_sizes": [5], "num_fields": ["a"], "max_len": 16}
    model = coles.CoLES(cfg, info)
    loss = model.loss(z)
    # reference: pytorch-metric-learning's ContrastiveLoss = mean over non-zero terms of
    # d(a, p) for every positive pair and relu(margin - d(a, n)) for each mined negative
    flat, labels = z.reshape(12, 6), torch.arange(4).repeat_interleave(3)
    d = torch.cdist(flat, flat)
    terms = []
    for i in range(12):
        for j in range(12):
            if i != j and labels[i] == labels[j]:
                terms.append(d[i, j])
        negs = sorted((float(d[i, j]), j) for j in range(12) if labels[j] != labels[i])[:3]
        terms += [torch.relu(0.5 - d[i, j]) for _, j in negs]
    terms = torch.stack(terms)
    expected = terms[terms > 0].mean()
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)


def _toy_data() -> object:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        style = u % 2
        for k in range(int(rng.integers(3, 25))):
            rows.append(
                {
                    "client_id": u,
                    "trans_date": k,
                    "mcc_code": int(rng.integers(0, 3) + 3 * style),
                    "amount": float(rng.normal(5 * style, 1)),
                }
            )
    return from_frame(pd.DataFrame(rows), EventsData(min_freq=1))


@pytest.mark.parametrize(
    ("module", "config"),
    [
        (coles, CoLESConfig(hidden=32, slice_min=2, slice_max=8)),
        (coles, CoLESConfig(hidden=32, loss="infonce", encoder="transformer")),
        (coles, CoLESConfig(hidden=32, miner="batch_hard")),
        (mem, MEMConfig(hidden=32, layers=1)),
        (mem, MEMConfig(hidden=32, layers=1, mask_mode="field", encoder="gru")),
        (cpc, CPCConfig(hidden=32, negatives=32)),
        (cpc, CPCConfig(hidden=32, negatives=32, encoder="transformer")),
    ],
)
def test_methods_train_and_embed(module, config) -> None:
    torch.manual_seed(0)
    data = _toy_data()
    model = module.build(config, data)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = data.collate([data.train_dataset()[i] for i in range(24)])
    losses = []
    for step in range(12):
        torch.manual_seed(1)  # the same slices / masks each step: the loss must go down
        out = model.training_step(batch, step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]
    model.eval()
    with torch.no_grad():
        z = model.embed(next(data.eval_batches("train", 16)).inputs)
    assert z.shape == (16, model.embed_dim) and torch.isfinite(z).all()
