"""Agreement with pytorch-metric-learning (core dependency) and lightly (bench group, optional);
numerics under bf16 autocast at temperature 0.01; nn building blocks."""

from __future__ import annotations

import math

import pytest
import torch

from sslkit.core import nn as snn
from sslkit.core import objectives as O


def _z(b, v, d, seed=0):
    return torch.randn(b, v, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("t", [0.07, 0.5])
def test_infonce_equals_pml_ntxent(t):
    from pytorch_metric_learning.losses import NTXentLoss

    z = _z(16, 2, 8)
    # PML: embeddings (2B, D), labels = row index of each view -> the same positive pairs
    emb = torch.cat([z[:, 0], z[:, 1]])
    lab = torch.arange(16).repeat(2)
    torch.testing.assert_close(
        O.InfoNCE(t)(z), NTXentLoss(temperature=t)(emb, lab), rtol=1e-5, atol=1e-5
    )
    # the two-view form, lightly's order (view_a, view_b)
    torch.testing.assert_close(
        O.InfoNCE(t)(z[:, 0], z[:, 1]), NTXentLoss(temperature=t)(emb, lab), rtol=1e-5, atol=1e-5
    )


def test_supcon_equals_pml_supcon():
    from pytorch_metric_learning.losses import SupConLoss

    z = _z(12, 2, 8, seed=1)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3, 0, 1, 4, 5])
    emb = z.reshape(24, 8)
    torch.testing.assert_close(
        O.SupCon(0.1)(z, labels=y),
        SupConLoss(temperature=0.1)(emb, y.repeat_interleave(2)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_metric_loss_wraps_pml_with_miner():
    from pytorch_metric_learning import losses, miners

    z = _z(10, 2, 6, seed=2)
    emb, lab = z.reshape(20, 6), torch.arange(10).repeat_interleave(2)
    pml = losses.ContrastiveLoss(pos_margin=0.0, neg_margin=0.5)
    miner = miners.BatchHardMiner()
    ours = O.MetricLoss(pml, miner)(z)
    torch.testing.assert_close(ours, pml(emb, lab, miner(emb, lab)))


def test_bf16_autocast_temperature_001_is_finite():
    torch.manual_seed(0)
    w = torch.randn(32, 64, requires_grad=True)
    x = torch.randn(256, 2, 32)
    for loss_fn in (
        O.InfoNCE(0.01),
        O.SupCon(0.01),
        O.DCL(0.01),
        O.DebiasedInfoNCE(0.01),
        O.AMInfoNCE(0.01),
    ):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = x @ w
            assert z.dtype == torch.bfloat16
            if isinstance(loss_fn, O.SupCon):
                loss = loss_fn(z, labels=torch.arange(256) % 7)
            else:
                loss = loss_fn(z)
        (g,) = torch.autograd.grad(loss, w)
        assert loss.dtype == torch.float32 and torch.isfinite(loss), type(loss_fn).__name__
        assert torch.isfinite(g).all() and g.abs().sum() > 0, type(loss_fn).__name__
    # and the value matches fp32 to bf16 input precision
    with torch.autocast("cpu", dtype=torch.bfloat16):
        zb = x @ w
    lb = O.InfoNCE(0.01)(zb)
    l32 = O.InfoNCE(0.01)(zb.float())
    torch.testing.assert_close(lb, l32)


def test_chunked_kernel_equals_unchunked_large():
    z = _z(300, 2, 16, seed=3).requires_grad_(True)
    a = O.InfoNCE(0.1)(z)
    (ga,) = torch.autograd.grad(a, z)
    b = O.InfoNCE(0.1, chunk_size=77)(z)
    (gb,) = torch.autograd.grad(b, z)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ga, gb)


def test_ema_teacher_averages_params_and_buffers_with_cosine_schedule():
    torch.manual_seed(0)
    student = snn.MLPHead(4, 8, 3)
    teacher = snn.EMATeacher(student, base_momentum=0.9, final_momentum=1.0)
    assert all(not p.requires_grad for p in teacher.module.parameters())
    t0 = [p.clone() for p in teacher.module.parameters()]
    b0 = [b.clone() for b in teacher.module.buffers()]
    student.train()
    student(torch.randn(16, 4) * 3 + 1)  # moves BatchNorm running stats
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    m = teacher.update(0, 10)
    assert m == pytest.approx(0.9)
    for p0, pt, ps in zip(t0, teacher.module.parameters(), student.parameters()):
        torch.testing.assert_close(pt, 0.9 * p0 + 0.1 * ps)
    for bz, bt, bs in zip(b0, teacher.module.buffers(), student.buffers()):
        if bz.dtype.is_floating_point:
            torch.testing.assert_close(bt, 0.9 * bz + 0.1 * bs)
            assert not torch.equal(bt, bz)
        else:
            assert torch.equal(bt, bs)
    assert teacher.momentum_at(5, 10) == pytest.approx(1 - 0.1 * (math.cos(math.pi / 2) + 1) / 2)
    assert teacher.momentum_at(10, 10) == pytest.approx(1.0)
    out = teacher(torch.randn(5, 4))
    assert out.shape == (5, 3) and not out.requires_grad


def test_mlp_head_and_masks_and_pooling():
    head = snn.MLPHead(6, 16, 4, num_layers=3)
    assert head(torch.randn(5, 6)).shape == (5, 4)
    assert head(torch.randn(2, 5, 6)).shape == (2, 5, 4)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head) == 2
    g = torch.Generator().manual_seed(0)
    m = snn.random_mask(4, 20, 0.75, generator=g)
    assert m.shape == (4, 20) and (m.sum(1) == 15).all()
    idx = snn.unmasked_indices(m)
    x = torch.randn(4, 20, 3)
    kept = snn.gather_tokens(x, idx)
    assert kept.shape == (4, 5, 3)
    for b in range(4):
        assert set(idx[b].tolist()) == set((~m[b]).nonzero().flatten().tolist())
    s = snn.span_mask(8, 100, mask_prob=0.05, span=10, generator=g)
    starts = (s[:, 1:] & ~s[:, :-1]).sum(1) + s[:, 0]
    assert (s.sum(1) >= 10).all() and (starts <= 5).all()
    blk = snn.block_mask(3, (8, 8), num_blocks=2, generator=g)
    assert blk.shape == (3, 64) and blk.any(1).all() and (blk.sum(1) < 64).all()
    seq = snn.block_mask(2, 50, num_blocks=1, scale=(0.2, 0.2), generator=g)
    assert (seq.sum(1) == 10).all()
    f = torch.arange(12.0).reshape(4, 3)
    fm = snn.random_mask(4, 3, 1 / 3, generator=g)
    c = snn.corrupt_features(f, fm, generator=g)
    assert torch.equal(c[~fm], f[~fm])
    for r, col in fm.nonzero().tolist():
        assert c[r, col] in f[:, col]
    valid = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    xx = torch.randn(2, 3, 4)
    torch.testing.assert_close(snn.masked_mean(xx, valid)[1], xx[1, 0])
    torch.testing.assert_close(snn.masked_max(xx, valid)[0], xx[0, :2].amax(0))
    assert snn.AttentionPool(4)(xx, valid).shape == (2, 4)
    torch.testing.assert_close(snn.LayerWeightedSum(3)([xx, xx, xx]), xx)


# ---- lightly (bench dependency group; skipped when not installed) ----


def test_lightly_agreement():
    pytest.importorskip("lightly")
    from lightly import loss as L

    z = _z(32, 2, 16, seed=5)
    z0, z1 = z[:, 0], z[:, 1]
    # NTXentLoss(temperature=t) == InfoNCE(t) with 2 views, in both calling forms
    torch.testing.assert_close(
        O.InfoNCE(0.3)(z), L.NTXentLoss(temperature=0.3)(z0, z1), rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(
        O.InfoNCE(0.3)(z0, z1), L.NTXentLoss(temperature=0.3)(z0, z1), rtol=1e-5, atol=1e-5
    )
    # DCLLoss / DCLWLoss(temperature, sigma) == DCL / DCLW
    torch.testing.assert_close(
        O.DCL(0.2)(z), L.DCLLoss(temperature=0.2)(z0, z1), rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(
        O.DCLW(0.2, 0.5)(z), L.DCLWLoss(temperature=0.2, sigma=0.5)(z0, z1), rtol=1e-5, atol=1e-5
    )
    # BarlowTwinsLoss(lambda_param) == BarlowTwins(lambda_)
    torch.testing.assert_close(
        O.BarlowTwins(0.005)(z), L.BarlowTwinsLoss(lambda_param=0.005)(z0, z1), rtol=1e-5, atol=1e-4
    )
    torch.testing.assert_close(
        O.BarlowTwins(0.005)(z0, z1),
        L.BarlowTwinsLoss(lambda_param=0.005)(z0, z1),
        rtol=1e-5,
        atol=1e-4,
    )
    # VICRegLoss(lambda, mu, nu, eps) == VICReg with the same names
    torch.testing.assert_close(O.VICReg()(z), L.VICRegLoss()(z0, z1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(O.VICReg()(z0, z1), L.VICRegLoss()(z0, z1), rtol=1e-5, atol=1e-5)
    # NegativeCosineSimilarity(x0, x1) == NegativeCosine(prediction, target) on (batch, dim)
    torch.testing.assert_close(O.NegativeCosine()(z0, z1), L.NegativeCosineSimilarity()(z0, z1))
    # DINOLoss(output_dim, teacher_temp, student_temp, center_momentum): global views first
    s, t = _z(8, 4, 10, seed=6), _z(8, 2, 10, seed=7)
    ld = L.DINOLoss(
        output_dim=10, warmup_teacher_temp=0.04, teacher_temp=0.04, warmup_teacher_temp_epochs=1
    )
    od = O.DINOLoss(10, teacher_temp=0.04)
    for _ in range(2):  # second call uses the updated centers
        ref = ld(list(t.unbind(1)), list(s.unbind(1)))
        torch.testing.assert_close(od(s, t), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(od.center, ld.center.flatten())
    # SwaVLoss(temperature, sinkhorn_iterations, sinkhorn_epsilon): high-res crops first
    sc = torch.tanh(_z(16, 3, 12, seed=8))
    ls = L.SwaVLoss(temperature=0.1, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)
    torch.testing.assert_close(
        O.SwAVLoss(0.1, 0.05, 3, n_assign=2)(sc),
        ls(list(sc[:, :2].unbind(1)), [sc[:, 2]]).squeeze(),
        rtol=1e-4,
        atol=1e-5,
    )
