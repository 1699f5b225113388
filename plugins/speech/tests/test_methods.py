"""Each method's loss against the paper's formula written by hand; verification metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslkit.speech.configs import (
    BestRQConfig,
    Data2VecConfig,
    HuBERTConfig,
    SpeakerConfig,
    SpeechData,
)
from sslkit.speech.data import load_data
from sslkit.speech.methods.base import frame_mask
from sslkit.speech.superb import eer_min_dcf

SMALL = {"dim": 32, "layers": 2, "heads": 2, "n_mels": 40, "dropout": 0.0}


@pytest.fixture(scope="module")
def data():
    return load_data(SpeechData(crop_seconds=0.5))


def _batch(data, method, n: int = 6):
    transform = method.train_transform()
    items = [transform(data.train_dataset()[i], torch.Generator().manual_seed(i)) for i in range(n)]
    return data.collate(items)


def test_hubert_loss_is_masked_cross_entropy_of_cosine_logits(data) -> None:
    from sslkit.speech.methods.hubert import build

    torch.manual_seed(0)
    m = build(HuBERTConfig(**SMALL, clusters=20, kmeans_frames=3000), data).eval()
    batch = _batch(data, m)
    torch.manual_seed(5)
    got = m.training_step(batch, 0)["loss"]
    torch.manual_seed(5)
    wave, lengths = batch["wave"], batch["lengths"]
    x, valid = m.encoder.frames(wave, lengths)
    ids = m.targets(wave, lengths, x.shape[1])
    mask = frame_mask(valid, m.cfg.mask_prob, m.cfg.mask_span)
    h = m.encoder.transformer(x, valid, mask)[-1]
    logits = F.normalize(m.head(h), dim=-1) @ F.normalize(m.units, dim=-1).T / 0.1
    sel = mask & valid & (ids >= 0)
    want = F.cross_entropy(logits[sel], ids[sel])
    assert sel.sum() > 10
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # the targets are the nearest centroid of the standardised MFCC frames
    feats, ok = m.targets.features(wave, lengths)
    z = (feats - m.targets.mean) / m.targets.std
    nearest = torch.cdist(z, m.targets.centroids[None].expand(len(z), -1, -1)).argmin(-1)
    k = min(nearest.shape[1], ids.shape[1])
    assert torch.equal(ids[:, :k][ok[:, :k]], nearest[:, :k][ok[:, :k]])


def test_bestrq_targets_are_nearest_random_codes_and_loss_is_masked_ce(data) -> None:
    from sslkit.speech.methods.bestrq import build

    torch.manual_seed(0)
    m = build(BestRQConfig(**SMALL, codebook_size=64), data).eval()
    batch = _batch(data, m)
    wave, lengths = batch["wave"], batch["lengths"]
    fbank, _ = m.encoder.fbank(wave, lengths)
    valid = m.encoder.grid(wave, lengths)
    ids = m.targets(fbank, valid.shape[1])
    b, t = valid.shape
    stacked = fbank[:, : t * 2].reshape(b, t, -1)
    proj = F.normalize(
        F.layer_norm(stacked, stacked.shape[-1:]) @ m.quantizer.projection[0], dim=-1
    )
    want_ids = (proj @ m.quantizer.codebook[0].T).argmax(-1)
    assert torch.equal(ids, want_ids)
    torch.manual_seed(9)
    got = m.training_step(batch, 0)["loss"]
    torch.manual_seed(9)
    mask = frame_mask(valid, m.cfg.mask_prob, m.cfg.mask_span)
    x, v = m.encoder.frames(wave, lengths, fbank_mask=mask, noise_std=0.1)
    logits = m.head(m.encoder.transformer(x, v)[-1])
    want = F.cross_entropy(logits[mask], ids.masked_fill(~valid, -100)[mask], ignore_index=-100)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_data2vec_regresses_the_average_of_instance_normed_top_layers(data) -> None:
    from sslkit.speech.methods.data2vec import build

    torch.manual_seed(0)
    m = build(Data2VecConfig(**SMALL, top_k=2), data).eval()
    batch = _batch(data, m)
    with torch.no_grad():  # a teacher unlike the student, so the targets are the teacher's
        for p in m.teacher.module.parameters():
            p.add_(0.01 * torch.randn_like(p))
    torch.manual_seed(2)
    got = m.training_step(batch, 0)["loss"]
    torch.manual_seed(2)
    wave, lengths = batch["wave"], batch["lengths"]
    t_hidden, _ = m.teacher.module(wave, lengths)
    target = sum(F.instance_norm(h.transpose(1, 2)).transpose(1, 2) for h in t_hidden[-2:]) / 2
    x, valid = m.encoder.frames(wave, lengths)
    mask = frame_mask(valid, m.cfg.mask_prob, m.cfg.mask_span)
    pred = m.head(m.encoder.transformer(x, valid, mask)[-1])
    want = ((pred - target) ** 2).mean(-1)[mask].mean()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_speaker_loss_is_additive_margin_infonce_by_hand(data) -> None:
    from sslkit.speech.encoders import layer_mean
    from sslkit.speech.methods.speaker import build

    torch.manual_seed(0)
    m = build(SpeakerConfig(**SMALL, margin=0.2, temperature=0.1), data).eval()
    batch = _batch(data, m, n=5)
    got = m.training_step(batch, 0)["loss"]
    b, v, n = batch["wave"].shape
    hidden, valid = m.encoder(batch["wave"].reshape(b * v, n), batch["lengths"].reshape(-1))
    z = F.normalize(m.projector(layer_mean(hidden, valid).mean(0)), dim=-1)  # rows: b0v0, b0v1..
    s = z @ z.T
    losses = []
    for i in range(2 * b):
        p = i + 1 if i % 2 == 0 else i - 1
        pos = (s[i, p] - 0.2) / 0.1
        others = [s[i, j] / 0.1 for j in range(2 * b) if j not in (i, p)]
        losses.append(-(pos - torch.logsumexp(torch.stack([pos, *others]), 0)))
    torch.testing.assert_close(got, torch.stack(losses).mean(), rtol=1e-5, atol=1e-5)


def test_eer_and_min_dcf_by_hand() -> None:
    separated = eer_min_dcf(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
    assert separated == {"eer": 0.0, "min_dcf": 0.0}
    # targets 0.9, 0.3; non-targets 0.5, 0.1: at threshold 0.4, one miss of 2 and one false
    # alarm of 2 -> EER 0.5; minDCF = min over thresholds of (0.01 Pmiss + 0.99 Pfa) / 0.01
    r = eer_min_dcf(np.array([0.9, 0.5, 0.3, 0.1]), np.array([True, False, True, False]))
    assert r["eer"] == pytest.approx(0.5)
    assert r["min_dcf"] == pytest.approx(min(0.01 * 1.0, 0.01 * 0.5, 0.99 * 0.5 + 0.0, 0.99) / 0.01)


def test_hubert_iteration_2_clusters_a_layer_of_the_iteration_1_run(tmp_path, data) -> None:
    from dataclasses import replace

    from sslkit.core import api
    from sslkit.speech.methods.hubert import build
    from sslkit.speech.methods.targets import LayerFeatures

    small = ["method.dim=32", "method.layers=2", "method.heads=2", "method.n_mels=40"]
    first = api.pretrain(
        "speech",
        "hubert",
        overrides=[
            *small,
            "data.max_files=100",
            "data.crop_seconds=0.5",
            "train.batch_size=8",
            "train.max_steps=2",
            "method.clusters=10",
            f"train.out={tmp_path}",
            "train.quiet=true",
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    cfg = replace(
        HuBERTConfig(**SMALL, clusters=12, kmeans_frames=2000),
        targets_from=str(first.run_dir),
        target_layer=1,
    )
    torch.manual_seed(0)
    m = build(cfg, data).eval()
    assert isinstance(m.targets.features, LayerFeatures) and m.targets.features.layer == 1
    teacher = first.method.encoder
    for (k, v), (k2, v2) in zip(
        teacher.state_dict().items(), m.targets.features.encoder.state_dict().items()
    ):
        assert k == k2 and torch.equal(v, v2)
    batch = _batch(data, m)
    ids = m.targets(
        batch["wave"], batch["lengths"], m.encoder.grid(batch["wave"], batch["lengths"]).shape[1]
    )
    assert ids.max() < 12 and len(ids[ids >= 0].unique()) > 3
    assert torch.isfinite(m.training_step(batch, 0)["loss"])


def test_dinosr_predicts_nearest_codewords_and_updates_them_by_ema(data) -> None:
    from sslkit.speech.configs import DinoSRConfig
    from sslkit.speech.methods.dinosr import build

    torch.manual_seed(0)
    m = build(DinoSRConfig(**SMALL, top_k=2, codebook_size=16), data).eval()
    batch = _batch(data, m)
    wave, lengths = batch["wave"], batch["lengths"]
    torch.manual_seed(4)
    got = m.training_step(batch, 0)["loss"]
    torch.manual_seed(4)
    layers = m.teacher.module(wave, lengths)[0][-2:]
    normed = [F.instance_norm(h.transpose(1, 2)).transpose(1, 2) for h in layers]
    codes = m.sums / m.counts[..., None]
    ids = [
        torch.cdist(x, codes[k][None].expand(len(x), -1, -1)).argmin(-1)
        for k, x in enumerate(normed)
    ]
    x, valid = m.encoder.frames(wave, lengths)
    mask = frame_mask(valid, m.cfg.mask_prob, m.cfg.mask_span)
    h = m.encoder.transformer(x, valid, mask)[-1]
    want = sum(F.cross_entropy(m.heads[k](h)[mask], ids[k][mask]) for k in range(2)) / 2
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    sums, counts = m.sums.clone(), m.counts.clone()
    m.update_codebooks(layers, torch.stack(ids), mask)
    v = int(ids[0][mask][0])
    assigned = normed[0][mask][ids[0][mask] == v]
    torch.testing.assert_close(
        m.sums[0, v], 0.9 * sums[0, v] + 0.1 * assigned.sum(0), rtol=1e-4, atol=1e-5
    )
    torch.testing.assert_close(m.counts[0, v], 0.9 * counts[0, v] + 0.1 * len(assigned))
