"""The encoder and the losses against hand computations: the normalised adjacency of a tiny
graph, LightGCN's propagation against a dense computation, BPR, L2 and the SGL/SimGCL InfoNCE
against their formulas, SimGCL's noise, the negative sampler and SGL's edge dropout."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from sslkit.recsys.augment import edge_dropout_graph
from sslkit.recsys.configs import LightGCNConfig, RecsysData, SimGCLConfig, XSimGCLConfig
from sslkit.recsys.data import load_data, normalized_adjacency
from sslkit.recsys.encoders import LightGCN, csr_matmul, perturb
from sslkit.recsys.methods.base import bpr_loss, cross_view_infonce, l2_loss

# 2 users x 3 items: u0-i0, u0-i1, u1-i1, u1-i2 (u0-i0 twice: counted once)
USERS = np.array([0, 0, 1, 1, 0])
ITEMS = np.array([0, 1, 1, 2, 0])


def dense(crow, col, value, n):
    return torch.sparse_csr_tensor(torch.as_tensor(crow), torch.as_tensor(col),
                                   torch.as_tensor(value), size=(n, n),
                                   check_invariants=True).to_dense()  # fmt: skip


def test_normalized_adjacency_by_hand():
    a = dense(*normalized_adjacency(USERS, ITEMS, 2, 3), 5)
    # degrees: u0 2, u1 2, i0 1, i1 2, i2 1; node order u0 u1 i0 i1 i2
    s = 1 / math.sqrt(2)
    expected = torch.tensor([
        [0, 0, s, 1 / 2, 0],
        [0, 0, 0, 1 / 2, s],
        [s, 0, 0, 0, 0],
        [1 / 2, 1 / 2, 0, 0, 0],
        [0, s, 0, 0, 0],
    ])  # fmt: skip
    assert torch.allclose(a, expected)


def test_an_item_without_training_interactions_has_a_zero_row():
    a = dense(*normalized_adjacency(np.array([0]), np.array([0]), 1, 2), 3)
    assert torch.equal(a[2], torch.zeros(3)) and a[0, 1] == 1 and a[1, 0] == 1


def test_propagation_is_the_layer_mean_of_dense_products():
    crow, col, value = normalized_adjacency(USERS, ITEMS, 2, 3)
    torch.manual_seed(0)
    enc = LightGCN(2, 3, 4, 3, len(col), first_layer=0)
    enc.set_graph(crow, col, value)
    a = dense(crow, col, value, 5)
    e0 = torch.cat([enc.user.weight, enc.item.weight]).detach()
    layers = [e0, a @ e0, a @ a @ e0, a @ a @ a @ e0]
    assert torch.allclose(enc.combine(enc.layer_outputs()), torch.stack(layers).mean(0), atol=1e-6)
    enc1 = LightGCN(2, 3, 4, 3, len(col), first_layer=1)  # SimGCL: layers 1..L
    enc1.load_state_dict(enc.state_dict())
    assert torch.allclose(enc1.combine(enc1.layer_outputs()), torch.stack(layers[1:]).mean(0),
                          atol=1e-6)  # fmt: skip
    # the gradient through the symmetric CSR product is A^T g
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 3, dtype=torch.float64)
    (
        csr_matmul(torch.as_tensor(crow), torch.as_tensor(col), torch.as_tensor(value), x) * g
    ).sum().backward()
    assert torch.allclose(x.grad, a.double().T @ g)


def test_bpr_l2_and_infonce_against_their_formulas():
    torch.manual_seed(1)
    u, p, n = torch.randn(3, 6, 8).unbind(0)
    ref = torch.tensor([-math.log(1 / (1 + math.exp(-(u[k] @ p[k] - u[k] @ n[k]).item())))
                        for k in range(6)]).mean()  # fmt: skip
    assert torch.allclose(bpr_loss(u, p, n), ref.float(), atol=1e-6)
    assert torch.allclose(l2_loss(1e-4, u, p, n),
                          1e-4 * (u.norm() ** 2 + p.norm() ** 2 + n.norm() ** 2) / 2 / 6)  # fmt: skip
    a, b = torch.randn(2, 5, 8).unbind(0)
    t = 0.2
    total = 0.0
    for i in range(5):
        sims = [(a[i] @ b[j] / a[i].norm() / b[j].norm()).item() / t for j in range(5)]
        total += -(sims[i] - math.log(sum(math.exp(s) for s in sims)))
    assert cross_view_infonce(a, b, t).item() == pytest.approx(total / 5, rel=1e-5)


def test_simgcl_noise_has_the_sign_of_the_embedding_and_norm_eps():
    torch.manual_seed(2)
    x = torch.randn(50, 8)
    d = perturb(x, 0.1) - x
    assert torch.allclose(d.norm(dim=1), torch.full((50,), 0.1), atol=1e-6)
    assert bool(((d * x) >= 0).all())


@pytest.fixture(scope="module")
def sample():
    return load_data(dataclasses.replace(RecsysData(), path="online-retail-sample"))


def test_negatives_are_never_training_positives(sample):
    from sslkit.recsys.methods.lightgcn import build

    torch.manual_seed(0)
    m = build(LightGCNConfig(embed_dim=8, num_layers=1), sample)
    u = torch.from_numpy(sample.rows("fit")[0]).repeat(3)
    neg = m.sample_negatives(u)
    fit = set(zip(*sample.rows("fit")))
    assert not any((a, b) in fit for a, b in zip(u.tolist(), neg.tolist()))
    assert len(torch.unique(neg)) > sample.n["item"] // 2  # spread over the catalogue


def one_step(build, cfg, data, seed: int):
    """The method built (seed 0), a batch of 64 pairs, and its first step's output drawn from
    ``seed``; the global generator is then reset to ``seed`` for the same draws by hand."""
    torch.manual_seed(0)
    m = build(cfg, data)
    batch = data.collate(list(range(64)))
    torch.manual_seed(seed)
    out = m.training_step(batch, 0)
    torch.manual_seed(seed)
    return m, batch, out


def test_simgcl_loss_is_bpr_plus_weighted_infonce_of_two_noisy_views(sample):
    from sslkit.recsys.methods.simgcl import build

    cfg = SimGCLConfig(embed_dim=8, num_layers=2, cl_weight=0.5, eps=0.1, reg=1e-4)
    m, batch, out = one_step(build, cfg, sample, 5)
    # the same draws by hand: negatives, then the two noisy propagations
    enc = m.encoder
    users, items = enc.split(enc.combine(enc.layer_outputs()))
    neg = m.sample_negatives(batch["user"])
    v1 = enc.split(enc.combine(enc.layer_outputs(eps=0.1)))
    v2 = enc.split(enc.combine(enc.layer_outputs(eps=0.1)))
    uu, ii = torch.unique(batch["user"]), torch.unique(batch["item"])
    bpr = bpr_loss(users[batch["user"]], items[batch["item"]], items[neg])
    cl = cross_view_infonce(v1[0][uu], v2[0][uu], 0.2) + cross_view_infonce(
        v1[1][ii], v2[1][ii], 0.2
    )
    reg = l2_loss(1e-4, enc.user(batch["user"]), enc.item(batch["item"]), enc.item(neg))
    assert torch.allclose(out["loss"], bpr + 0.5 * cl + reg, atol=1e-6)


def test_xsimgcl_contrasts_the_final_embedding_with_layer_l_star(sample):
    from sslkit.recsys.methods.xsimgcl import build

    cfg = XSimGCLConfig(embed_dim=8, num_layers=2, cl_layer=1)
    m, batch, out = one_step(build, cfg, sample, 7)
    layers = m.encoder.layer_outputs(eps=cfg.eps)
    users, items = m.encoder.split(torch.stack(layers[1:]).mean(0))
    cl_u, cl_i = m.encoder.split(layers[1])
    uu, ii = torch.unique(batch["user"]), torch.unique(batch["item"])
    cl = cross_view_infonce(users[uu], cl_u[uu], 0.15) + cross_view_infonce(
        items[ii], cl_i[ii], 0.15
    )
    assert torch.allclose(out["cl"], cl, atol=1e-6)


def test_sgl_edge_dropout_keeps_a_symmetric_normalised_graph():
    g = torch.Generator().manual_seed(0)
    key = torch.randperm(600, generator=torch.Generator().manual_seed(1))[:200]  # unique pairs
    users, items = key // 30, key % 30
    crow, col, value = edge_dropout_graph(users, items, 20, 30, 0.1, g)
    a = dense(crow, col, value, 50)
    assert torch.allclose(a, a.T)
    kept = len(col) // 2
    assert 150 < kept < 200  # about 90% of the edges kept
    deg = (a > 0).sum(1).float()
    r, c = a.nonzero().unbind(1)
    assert torch.allclose(a[r, c], 1 / torch.sqrt(deg[r] * deg[c]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_propagation_and_a_step_on_cuda_agree_with_cpu(sample):
    from sslkit.recsys.methods.simgcl import build

    torch.manual_seed(0)
    m = build(SimGCLConfig(embed_dim=8, num_layers=2), sample)
    cpu = m.encoder.combine(m.encoder.layer_outputs()).detach()
    m = m.cuda()
    gpu = m.encoder.combine(m.encoder.layer_outputs()).detach().cpu()
    assert torch.allclose(cpu, gpu, atol=1e-5)
    batch = {k: v.cuda() for k, v in sample.collate(list(range(64))).items()}
    m.training_step(batch, 0)["loss"].backward()
    assert m.encoder.user.weight.grad is not None
