"""Every objective's value and gradient against the float64 loop references in refs.py."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest
import torch

from sslkit.core import objectives as O

_spec = importlib.util.spec_from_file_location(
    "objrefs", pathlib.Path(__file__).with_name("refs.py")
)
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


def _check(ours_fn, ref_fn, *inputs, atol=1e-9):
    """Loss values and gradients w.r.t. every input that requires grad."""
    ours = ours_fn(*inputs)
    ref = ref_fn(*inputs)
    assert torch.isfinite(ours)
    torch.testing.assert_close(
        ours.double(), torch.as_tensor(ref, dtype=torch.float64), atol=atol, rtol=1e-7
    )
    xs = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    g1 = torch.autograd.grad(ours, xs, allow_unused=True)
    g2 = torch.autograd.grad(ref, xs, allow_unused=True)
    for a, b in zip(g1, g2):
        if a is None and b is None:
            continue
        a = torch.zeros_like(b) if a is None else a
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-6)


@pytest.mark.parametrize("views", [2, 3])
@pytest.mark.parametrize("chunk", [None, 4])
def test_infonce(views, chunk):
    z = _rand(6, views, 5)
    _check(lambda z: O.InfoNCE(0.2, chunk_size=chunk)(z), lambda z: refs.infonce(z, 0.2), z)


def test_infonce_views_as_list_and_wrong_shape():
    z = _rand(5, 2, 4)
    a = O.InfoNCE()(z)
    b = O.InfoNCE()([z[:, 0], z[:, 1]])
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        O.InfoNCE()(z[:, 0])


@pytest.mark.parametrize("chunk", [None, 3])
def test_supcon_labels(chunk):
    z = _rand(7, 2, 4, seed=1)
    lab = torch.tensor([0, 1, 0, 2, 1, 0, 3])
    _check(
        lambda z: O.SupCon(0.3, chunk_size=chunk)(z, lab),
        lambda z: refs.infonce(z, 0.3, labels=lab),
        z,
    )


def test_supcon_single_view_skips_anchors_without_positive():
    z = _rand(6, 1, 4, seed=2)
    lab = torch.tensor([0, 1, 0, 2, 1, 5])  # labels 2 and 5 have no positive
    _check(lambda z: O.SupCon(0.5)(z, lab), lambda z: refs.infonce(z, 0.5, labels=lab), z)


def test_infonce_positive_mask():
    z = _rand(5, 2, 4, seed=3)
    pm = torch.zeros(5, 5, dtype=torch.bool)
    pm[0, 3] = pm[3, 0] = pm[1, 2] = True
    _check(
        lambda z: O.InfoNCE(0.25)(z, positive_mask=pm), lambda z: refs.infonce(z, 0.25, pmask=pm), z
    )


def test_am_infonce():
    z = _rand(5, 2, 4, seed=4)
    _check(lambda z: O.AMInfoNCE(0.2, margin=0.3)(z), lambda z: refs.infonce(z, 0.2, margin=0.3), z)
    lab = torch.tensor([0, 1, 0, 1, 2])
    _check(
        lambda z: O.AMInfoNCE(0.2, margin=0.1)(z, labels=lab),
        lambda z: refs.infonce(z, 0.2, labels=lab, margin=0.1),
        z,
    )


@pytest.mark.parametrize("views", [2, 3])
def test_dcl_dclw(views):
    z = _rand(5, views, 4, seed=5)
    _check(lambda z: O.DCL(0.3)(z), lambda z: refs.dcl(z, 0.3), z)
    _check(lambda z: O.DCLW(0.3, sigma=0.5)(z), lambda z: refs.dcl(z, 0.3, sigma=0.5), z)


@pytest.mark.parametrize("tau_plus", [0.0, 0.1])
def test_debiased(tau_plus):
    z = _rand(6, 2, 4, seed=6)
    _check(
        lambda z: O.DebiasedInfoNCE(0.5, tau_plus)(z), lambda z: refs.debiased(z, 0.5, tau_plus), z
    )


def test_debiased_floor_is_active_at_large_tau_plus():
    z = _rand(6, 2, 4, seed=7)
    _check(lambda z: O.DebiasedInfoNCE(0.5, 0.9)(z), lambda z: refs.debiased(z, 0.5, 0.9), z)


def test_moco_queue_enqueue_after_loss():
    q, k = _rand(4, 6, seed=8), _rand(4, 6, seed=9)
    loss_fn = O.MoCoQueue(6, queue_size=10, temperature=0.2).double()
    assert loss_fn(q, k).item() == 0.0  # empty queue: nothing to contrast yet
    q2, k2 = _rand(4, 6, seed=10), _rand(4, 6, seed=11)
    queue = [k[i].detach() for i in range(4)]
    _check(lambda q: loss_fn(q, k2), lambda q: refs.moco(q, k2, queue, 0.2), q2)
    # the first call enqueued k, the checked call k2
    assert int(loss_fn.filled) == 8
    torch.testing.assert_close(
        loss_fn.queue[4:8], torch.nn.functional.normalize(k2.detach(), dim=-1)
    )
    for _ in range(3):  # wraps around
        loss_fn(q2, k2)
    assert int(loss_fn.filled) == 10 and int(loss_fn.ptr) == (8 + 12) % 10


def test_nnclr_uses_nearest_support_neighbour():
    loss_fn = O.NNCLR(4, support_size=16, temperature=0.5).double()
    support = torch.nn.functional.normalize(_rand(16, 4, seed=12).detach(), dim=-1)
    loss_fn.support.copy_(support)
    loss_fn.filled.fill_(16)
    z, p = _rand(5, 2, 4, seed=13), _rand(5, 2, 4, seed=14)

    def ref(z, p):
        zn = torch.nn.functional.normalize(z, dim=-1)
        pn = torch.nn.functional.normalize(p, dim=-1)
        total = 0.0
        for a, b in ((0, 1), (1, 0)):
            for i in range(5):
                sims = [float(zn[i, a].detach() @ s) for s in support]
                nn_ = support[max(range(16), key=lambda j: sims[j])]
                den = sum(torch.exp(nn_ @ pn[k, b] / 0.5) for k in range(5))
                total = total - torch.log(torch.exp(nn_ @ pn[i, b] / 0.5) / den) / 10
        return total

    _check(lambda z, p: loss_fn(z, p), ref, z, p)


def test_barlow_twins():
    z = _rand(6, 2, 4, seed=15)
    _check(lambda z: O.BarlowTwins(0.1)(z), lambda z: refs.barlow(z[:, 0], z[:, 1], 0.1), z)


def test_vicreg():
    z = _rand(7, 2, 4, seed=16) * 0.5
    _check(
        lambda z: O.VICReg(25.0, 25.0, 1.0)(z),
        lambda z: refs.vicreg(z[:, 0], z[:, 1], 25.0, 25.0, 1.0),
        z,
    )


def test_wmse():
    z = _rand(12, 2, 3, seed=17)
    _check(lambda z: O.WMSE(eps=0.01)(z), lambda z: refs.wmse(z[:, 0], z[:, 1], 0.01), z, atol=1e-8)


@pytest.mark.parametrize("byol", [False, True])
def test_negative_cosine(byol):
    p, z = _rand(5, 2, 4, seed=18), _rand(5, 2, 4, seed=19)

    def ref(p, z):
        z = z.detach()
        cos = [
            (p[i, a] @ z[i, 1 - a]) / (p[i, a].norm() * z[i, 1 - a].norm())
            for i in range(5)
            for a in range(2)
        ]
        c = sum(cos) / len(cos)
        return 2 - 2 * c if byol else -c

    _check(lambda p, z: O.NegativeCosine(byol=byol)(p, z), ref, p, z)
    g = torch.autograd.grad(O.NegativeCosine()(p, z), z, allow_unused=True)[0]
    assert g is None  # stop-gradient on the target


def test_dino_loss_center_and_schedule():
    s, t = _rand(4, 4, 6, seed=20), _rand(4, 2, 6, seed=21)
    loss_fn = O.DINOLoss(
        6, student_temp=0.1, teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_steps=10
    ).double()
    center = torch.zeros(6, dtype=torch.float64)
    loss_fn.center.copy_(torch.linspace(-0.5, 0.5, 6))
    center = loss_fn.center.clone()
    assert loss_fn.teacher_temp_at(5) == pytest.approx(0.055)
    assert loss_fn.teacher_temp_at(50) == pytest.approx(0.07)
    loss_fn.eval()  # no center update while checking the gradient twice
    _check(
        lambda s, t: loss_fn(s, t, step=5), lambda s, t: refs.dino(s, t, center, 0.1, 0.055), s, t
    )
    loss_fn.train()
    loss_fn(s, t, step=5)
    expected = 0.9 * center + 0.1 * t.detach().mean(dim=(0, 1))
    torch.testing.assert_close(loss_fn.center, expected)
    assert int(loss_fn.step) == 1


def test_sinkhorn_and_swav():
    scores = _rand(6, 3, 5, seed=22) * 0.3
    q = O.sinkhorn_knopp(scores[:, 0], eps=0.05, iters=3)
    torch.testing.assert_close(q, refs.sinkhorn(scores[:, 0].detach(), 0.05, 3))
    torch.testing.assert_close(q.sum(1), torch.ones(6, dtype=torch.float64))
    _check(
        lambda s: O.SwAVLoss(0.1, 0.05, 3, n_assign=2)(s),
        lambda s: refs.swav(s, 0.1, 0.05, 3, 2),
        scores,
    )


def test_sinkhorn_small_eps_is_finite():
    # cosine scores / 0.01 reach exp(100), beyond fp32: needs the max shift and float64
    scores = torch.rand(32, 10) * 2 - 1
    q = O.sinkhorn_knopp(scores, eps=0.01, iters=3)
    assert torch.isfinite(q).all()


@pytest.mark.parametrize("norm", [False, True])
def test_mae(norm):
    pred, target = _rand(3, 5, 4, seed=23), _rand(3, 5, 4, seed=24)
    mask = torch.rand(3, 5, generator=torch.Generator().manual_seed(0)) > 0.4
    _check(
        lambda p: O.MaskedReconstruction(norm_targets=norm)(p, target, mask),
        lambda p: refs.mae(p, target, mask, norm),
        pred,
        atol=1e-8,
    )


def test_latent_prediction_top_k_layer_average():
    pred = _rand(2, 5, 4, seed=25)
    layers = [_rand(2, 5, 4, seed=30 + i).detach() for i in range(4)]
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)

    def ref(p):
        total, n = 0.0, 0
        for b in range(2):
            for t in range(5):
                if not mask[b, t]:
                    continue
                tgt = 0.0
                for x in layers[-2:]:  # top-2 layers, each layer-normed (no affine)
                    v = x[b, t]
                    m = v.mean()
                    var = ((v - m) ** 2).mean()
                    tgt = tgt + (v - m) / torch.sqrt(var + 1e-5) / 2
                total = total + ((p[b, t] - tgt) ** 2).mean()
                n += 1
        return total / n

    _check(lambda p: O.LatentPrediction(top_k=2)(p, layers, mask), ref, pred, atol=1e-8)
    # a stacked (L, B, T, D) tensor means the same
    a = O.LatentPrediction(top_k=2)(pred, torch.stack(layers), mask)
    torch.testing.assert_close(a, O.LatentPrediction(top_k=2)(pred, layers, mask))


def test_hubert_masked_prediction():
    logits = _rand(2, 6, 5, seed=26)
    targets = torch.randint(0, 5, (2, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1, 1, 0, 0, 1, 0], [0, 1, 1, 0, 0, 0]], dtype=torch.bool)
    _check(
        lambda x: O.MaskedPrediction()(x, targets, mask),
        lambda x: refs.hubert(x, targets, mask),
        logits,
    )


def test_bestrq_quantizer_is_nearest_code_and_frozen():
    qz = O.BestRQQuantizer(8, codebook_size=32, code_dim=4, seed=3).double()
    x = _rand(3, 7, 8, seed=27).detach()
    ids = qz(x)
    assert ids.shape == (3, 7) and ids.dtype == torch.long
    for b in range(3):
        for t in range(7):
            v = x[b, t]
            v = (v - v.mean()) / torch.sqrt(((v - v.mean()) ** 2).mean() + 1e-5)
            y = v @ qz.projection[0]
            y = y / y.norm()
            dist = [float(((y - c) ** 2).sum()) for c in qz.codebook[0]]
            assert ids[b, t] == min(range(32), key=lambda j: dist[j])
    assert not any(p.requires_grad for p in qz.parameters())
    assert torch.equal(O.BestRQQuantizer(8, 32, 4, seed=3).double()(x), ids)  # seeded


def test_random_projectors_frozen_and_shaped():
    rp = O.RandomProjectors(6, 3, num=2)
    x = torch.randn(5, 6)
    y = rp(x)
    assert y.shape == (2, 5, 3)
    assert all(not p.requires_grad for p in rp.parameters())
    torch.testing.assert_close(rp(x[:2]), y[:, :2])  # per-row, batch-independent


def test_matryoshka_sums_nested_prefixes():
    z = _rand(6, 2, 8, seed=28)
    mat = O.Matryoshka(O.InfoNCE(0.2), dims=(2, 4, 8), weights=(0.5, 1.0, 2.0))
    _check(
        lambda z: mat(z),
        lambda z: (
            0.5 * refs.infonce(z[..., :2], 0.2)
            + refs.infonce(z[..., :4], 0.2)
            + 2 * refs.infonce(z, 0.2)
        ),
        z,
    )
    lab = torch.tensor([0, 1, 0, 1, 2, 2])
    sup = O.Matryoshka(O.SupCon(0.3), dims=(4, 8))
    _check(
        lambda z: sup(z, lab),
        lambda z: refs.infonce(z[..., :4], 0.3, labels=lab) + refs.infonce(z, 0.3, labels=lab),
        z,
    )
    assert mat.distributed_kind == "gather"


def test_monitors():
    z = _rand(20, 6, seed=29).detach()
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + 1e-7
    assert O.rankme(z).item() == pytest.approx(math.exp(-float((p * p.log()).sum())), rel=1e-5)
    collapsed = torch.ones(20, 6) + 1e-9 * torch.randn(20, 6)
    assert O.rankme(collapsed).item() < 1.1
    assert O.rankme(torch.randn(500, 6)).item() > 5.5
    z1, z2 = z[:10], z[10:]
    x1 = torch.nn.functional.normalize(z1, dim=-1)
    x2 = torch.nn.functional.normalize(z2, dim=-1)
    al = sum(float(((x1[i] - x2[i]) ** 2).sum()) for i in range(10)) / 10
    assert O.alignment(z1, z2).item() == pytest.approx(al, rel=1e-5)
    x = torch.nn.functional.normalize(z, dim=-1)
    pairs = [
        math.exp(-2 * float(((x[i] - x[j]) ** 2).sum()))
        for i in range(20)
        for j in range(i + 1, 20)
    ]
    assert O.uniformity(z).item() == pytest.approx(math.log(sum(pairs) / len(pairs)), rel=1e-5)
    assert O.embedding_std(collapsed).item() < 1e-6
    assert O.embedding_std(torch.randn(1000, 64)).item() == pytest.approx(1 / 8, rel=0.1)


def test_every_objective_declares_its_kind_and_paper():
    for name in O.__all__:
        obj = getattr(O, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, torch.nn.Module)
            and name
            not in (
                "BestRQQuantizer",
                "RandomProjectors",
                "Matryoshka",
            )
        ):
            assert obj.distributed_kind in {"gather", "reduce", "local"}, name
            assert any(ch.isdigit() for ch in (obj.__doc__ or "")), (
                f"{name} docstring names no paper/year"
            )
