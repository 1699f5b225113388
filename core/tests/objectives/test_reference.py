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
        lambda z: O.SupCon(0.3, chunk_size=chunk)(z, labels=lab),
        lambda z: refs.infonce(z, 0.3, labels=lab),
        z,
    )


def test_supcon_single_view_skips_anchors_without_positive():
    z = _rand(6, 1, 4, seed=2)
    lab = torch.tensor([0, 1, 0, 2, 1, 5])  # labels 2 and 5 have no positive
    _check(lambda z: O.SupCon(0.5)(z, labels=lab), lambda z: refs.infonce(z, 0.5, labels=lab), z)


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
    assert len(loss_fn.queue) == 8
    torch.testing.assert_close(
        loss_fn.queue.read()[4:8], torch.nn.functional.normalize(k2.detach(), dim=-1)
    )
    for _ in range(3):  # wraps around
        loss_fn(q2, k2)
    assert len(loss_fn.queue) == 10 and int(loss_fn.queue.ptr) == (8 + 12) % 10


def test_nnclr_uses_nearest_support_neighbour():
    loss_fn = O.NNCLR(4, support_size=16, temperature=0.5).double()
    support = torch.nn.functional.normalize(_rand(16, 4, seed=12).detach(), dim=-1)
    loss_fn.support.features.copy_(support)
    loss_fn.support.filled.fill_(16)
    z, p = _rand(5, 2, 4, seed=13), _rand(5, 2, 4, seed=14)

    def ref(p, z):
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

    _check(lambda p, z: loss_fn(p, z), ref, p, z)  # (prediction, target)
    assert len(loss_fn.support) == 16  # full; the checked calls enqueued z[:, 0]


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
    assert loss_fn.last_teacher_temp == pytest.approx(0.055)
    assert set(loss_fn.state_dict()) == {"center"}  # no call counter


def test_dino_step_is_the_callers():
    s, t = _rand(3, 3, 5, seed=40).detach(), _rand(3, 2, 5, seed=41).detach()
    warm = O.DINOLoss(5, teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_steps=4).double()
    with pytest.raises(ValueError, match="step="):
        warm(s, t)
    # the same step gives the same temperature however often the loss is called
    warm.eval()
    values = [warm(s, t, step=2) for _ in range(3)]
    assert warm.last_teacher_temp == pytest.approx(0.055)
    assert values[0] == values[1] == values[2]
    torch.testing.assert_close(
        values[0], refs.dino(s, t, torch.zeros(5, dtype=s.dtype), 0.1, 0.055)
    )
    # without warmup the step does not matter and need not be given
    flat = O.DINOLoss(5, teacher_temp=0.07).double().eval()
    torch.testing.assert_close(flat(s, t), flat(s, t, step=0))
    # a checkpoint from before (with the call counter buffer) still loads
    state = {"center": torch.ones(5, dtype=torch.float64), "step": torch.tensor(7)}
    warm.load_state_dict(state)
    torch.testing.assert_close(warm.center, torch.ones(5, dtype=torch.float64))


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
        lambda z: sup(z, labels=lab),
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


# ---- one calling convention: (view_a, view_b) == (batch, views, dim); (prediction, target) ----

TWO_VIEW_LOSSES = {
    "InfoNCE": lambda: O.InfoNCE(0.2),
    "InfoNCE-chunked": lambda: O.InfoNCE(0.2, chunk_size=3),
    "SupCon": lambda: O.SupCon(0.3),
    "AMInfoNCE": lambda: O.AMInfoNCE(0.2, margin=0.3),
    "DCL": lambda: O.DCL(0.3),
    "DCLW": lambda: O.DCLW(0.3, sigma=0.5),
    "DebiasedInfoNCE": lambda: O.DebiasedInfoNCE(0.5, 0.1),
    "MetricLoss": lambda: O.MetricLoss(),
    "BarlowTwins": lambda: O.BarlowTwins(0.1),
    "VICReg": lambda: O.VICReg(),
    "WMSE": lambda: O.WMSE(eps=0.01),
    "SwAVLoss": lambda: O.SwAVLoss(0.1, 0.05, 3),
    "Matryoshka(InfoNCE)": lambda: O.Matryoshka(O.InfoNCE(0.2), dims=(2, 4)),
}


@pytest.mark.parametrize("name", sorted(TWO_VIEW_LOSSES))
def test_two_view_form_equals_single_tensor_form(name):
    a, b = _rand(7, 4, seed=50), _rand(7, 4, seed=51)
    kw = {"labels": torch.tensor([0, 1, 0, 2, 1, 0, 3])} if name == "SupCon" else {}
    fn = TWO_VIEW_LOSSES[name]
    two = fn()(a, b, **kw)
    one = fn()(torch.stack([a, b], dim=1), **kw)
    torch.testing.assert_close(two, one, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        torch.autograd.grad(two, (a, b)), torch.autograd.grad(one, (a, b)), rtol=1e-12, atol=1e-12
    )


def test_two_view_form_against_references():
    a, b = _rand(6, 5, seed=52), _rand(6, 5, seed=53)
    _check(lambda a, b: O.InfoNCE(0.2)(a, b), lambda a, b: refs.infonce(torch.stack([a, b], 1), 0.2), a, b)  # fmt: skip
    _check(lambda a, b: O.DCL(0.3)(a, b), lambda a, b: refs.dcl(torch.stack([a, b], 1), 0.3), a, b)
    _check(lambda a, b: O.BarlowTwins(0.1)(a, b), lambda a, b: refs.barlow(a, b, 0.1), a, b)
    _check(
        lambda a, b: O.VICReg(25.0, 25.0, 1.0)(a, b),
        lambda a, b: refs.vicreg(a, b, 25.0, 25.0, 1.0),
        a,
        b,
    )


def test_hand_computed_values_of_the_new_forms():
    e = torch.eye(2, dtype=torch.float64)
    # two orthonormal rows, both views identical, t = 1: every anchor has its positive at
    # similarity 1 and two negatives at 0, so the loss is -log(e / (e + 2)) = log(1 + 2/e)
    assert O.InfoNCE(1.0)(e, e).item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-12)
    # (prediction, target) pairs: cos((1, 0), (1, 1)) = 1/sqrt(2)
    p, z = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    assert O.NegativeCosine()(p, z).item() == pytest.approx(-(0.5**0.5))
    assert O.NegativeCosine(byol=True)(p, z).item() == pytest.approx(2 - 2 * 0.5**0.5)
    # MoCo (query, key) with one queued negative orthogonal to the query, t = 0.5:
    # -log(e^2 / (e^2 + e^0)) = log(1 + e^-2)
    moco = O.MoCoQueue(2, queue_size=4, temperature=0.5).double()
    moco.queue.enqueue(e[1:])
    assert moco(e[:1], e[:1]).item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-12)


def test_labels_and_masks_are_keywords():
    z = _rand(5, 2, 4, seed=54).detach()
    lab = torch.tensor([0, 1, 0, 1, 2])
    with pytest.raises(ValueError, match="keyword"):
        O.SupCon()(z, lab)  # the old positional labels: refused, not read as a view
    with pytest.raises(ValueError, match="keyword"):
        O.MetricLoss()(z[:, 0], lab)
    with pytest.raises(ValueError, match="labels="):
        O.SupCon()(z)
    with pytest.raises(ValueError, match="two views"):
        O.InfoNCE()(z, z)  # two views are (batch, dim) each
    with pytest.raises(ValueError, match="prediction, target"):
        O.NegativeCosine()(z[:, 0], z)
    torch.testing.assert_close(
        O.MetricLoss()(z[:, 0], z[:, 1]),
        O.MetricLoss()(z.reshape(10, 4), labels=lab.new_tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])),
    )


# ---- FeatureQueue: the one ring buffer of MoCo and NNCLR ----


def test_feature_queue_ring_buffer():
    q = O.FeatureQueue(5, 2).double()
    assert len(q) == 0 and q.read().shape == (0, 2)
    x = torch.arange(14, dtype=torch.float64).reshape(7, 2)
    q.enqueue(x[:3])
    torch.testing.assert_close(q.read(), x[:3])
    before = q.read()
    q.enqueue(x[3:7])  # 3 + 4 > 5: wraps, the two oldest are overwritten
    assert len(q) == 5 and int(q.ptr) == 2
    torch.testing.assert_close(q.features, torch.cat([x[5:7], x[2:5]]))
    torch.testing.assert_close(before, x[:3])  # out of place: earlier reads unchanged
    q.enqueue(torch.zeros(12, 2, dtype=torch.float64))  # more than the size: the last 5 stay
    assert len(q) == 5 and int(q.ptr) == (2 + 12) % 5
    with pytest.raises(ValueError, match="features"):
        q.enqueue(torch.zeros(3, 4, dtype=torch.float64))


def test_feature_queue_is_checkpointed_and_shared_by_moco_and_nnclr():
    moco, nnclr = O.MoCoQueue(3, queue_size=6), O.NNCLR(3, support_size=6)
    assert isinstance(moco.queue, O.FeatureQueue) and isinstance(nnclr.support, O.FeatureQueue)
    assert set(moco.state_dict()) == {"queue.features", "queue.ptr", "queue.filled"}
    assert set(nnclr.state_dict()) == {"support.features", "support.ptr", "support.filled"}
    moco(torch.randn(4, 3), torch.randn(4, 3))
    restored = O.MoCoQueue(3, queue_size=6)
    restored.load_state_dict(moco.state_dict())
    torch.testing.assert_close(restored.queue.read(), moco.queue.read())
    assert int(restored.queue.ptr) == 4
    # checkpoints from before the FeatureQueue (buffers on the loss itself) still load
    feats = torch.randn(6, 3)
    restored.load_state_dict({"queue": feats, "ptr": torch.tensor(1), "filled": torch.tensor(6)})
    torch.testing.assert_close(restored.queue.read(), feats)
    old_nn = {"support": feats, "ptr": torch.tensor(2), "filled": torch.tensor(5)}
    nnclr.load_state_dict(old_nn)
    assert len(nnclr.support) == 5 and int(nnclr.support.ptr) == 2
