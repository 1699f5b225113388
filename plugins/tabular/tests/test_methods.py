"""Methods and encoders: corruption counts, feature subsets, losses against hand formulas."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import pytest
import torch

from sslkit.core.method_config import apply_nested
from sslkit.tabular.augment import exact_mask, resample_marginals
from sslkit.tabular.configs import SCARFConfig, TJEPAConfig, VIMEConfig
from sslkit.tabular.data import from_dataframe
from sslkit.tabular.encoders import PeriodicEmbedding
from sslkit.tabular.methods import scarf, tjepa, vime
from sslkit.tabular.schema import SchemaWarning


@pytest.fixture
def data(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        return from_dataframe(table, target="churn")


def batch_of(data, n=64):
    ds = data.train_dataset()
    return data.collate(ds.__getitems__(list(range(n))))


def test_exact_mask_and_marginal_resampling():
    torch.manual_seed(0)
    mask = exact_mask(50, 7, 3, torch.device("cpu"))
    assert (mask.sum(1) == 3).all()
    num = torch.arange(50 * 3, dtype=torch.float32).reshape(50, 3)
    cat = torch.arange(50 * 4).reshape(50, 4)
    out = resample_marginals({"num": num, "cat": cat}, mask, 3)
    # unmasked values are untouched; masked ones come from the same column of some row
    full_in = torch.cat([num, cat.float()], 1)
    full_out = torch.cat([out["num"], out["cat"].float()], 1)
    assert torch.equal(full_out[~mask], full_in[~mask])
    for j in range(7):
        assert set(full_out[mask[:, j], j].tolist()) <= set(full_in[:, j].tolist())


def test_scarf_corrupts_exactly_the_fraction(data):
    cfg = SCARFConfig(corruption_rate=0.5)
    method = scarf.build(cfg, data)
    n = data.info["n_num"] + data.info["n_cat"]
    assert method.k == round(0.5 * n)
    _, mask = method.corrupt(batch_of(data))
    assert (mask.sum(1) == method.k).all()


def test_scarf_loss_is_infonce_of_the_two_views(data):
    torch.manual_seed(0)
    method = scarf.build(SCARFConfig(temperature=0.5), data)
    batch = batch_of(data, 32)
    torch.manual_seed(1)
    loss = method.training_step(batch, 0)["loss"]
    torch.manual_seed(1)
    corrupted, _ = method.corrupt(batch)
    a = torch.nn.functional.normalize(method.heads[0](method.encoder(batch)), dim=1)
    b = torch.nn.functional.normalize(method.heads[0](method.encoder(corrupted)), dim=1)
    z = torch.cat([a, b])  # NT-Xent by hand
    sim = z @ z.T / 0.5
    sim.fill_diagonal_(float("-inf"))
    n = len(a)
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    ref = torch.nn.functional.cross_entropy(sim, pos)
    torch.testing.assert_close(loss, ref, atol=1e-5, rtol=1e-5)


def test_tjepa_subsets_are_disjoint_and_sized():
    torch.manual_seed(0)
    cfg = TJEPAConfig(
        min_context_share=0.2, max_context_share=0.4, min_target_share=0.2, max_target_share=0.4
    )
    for _ in range(20):
        n_ctx, n_tgt = tjepa.subset_sizes(cfg, 14)
        assert 3 <= n_ctx <= 6 and 3 <= n_tgt <= 6 and n_ctx + n_tgt <= 14
        ctx, tgts = tjepa.sample_subsets(8, 14, n_ctx, n_tgt, 4, False, torch.device("cpu"))
        assert ctx.shape == (8, n_ctx) and tgts.shape == (4, 8, n_tgt)
        for i in range(8):
            c = set(ctx[i].tolist())
            assert len(c) == n_ctx
            for t in tgts[:, i]:
                assert len(set(t.tolist())) == n_tgt and not c & set(t.tolist())


def test_tjepa_step_matches_a_hand_computation(data):
    torch.manual_seed(0)
    cfg = TJEPAConfig(d_token=16, n_heads=2, ffn_dim=32, pred_dim=8, pred_heads=2, n_reg_tokens=2)
    method = tjepa.build(cfg, data).eval()
    batch = batch_of(data, 16)
    torch.manual_seed(5)
    loss = method.training_step(batch, 0)["loss"]
    torch.manual_seed(5)
    n = method.n
    n_ctx, n_tgt = tjepa.subset_sizes(cfg, n)
    ctx, tgts = tjepa.sample_subsets(16, n, n_ctx, n_tgt, cfg.n_targets, False, torch.device("cpu"))
    full = method.target.module(batch)[:, 2:]  # EMA encoder on every feature, reg tokens dropped
    z = method.encoder(batch, keep=ctx)  # context encoder on the context features only
    assert z.shape == (16, 2 + n_ctx, 16)
    pred = method.predictor(z, ctx, tgts)
    ref = torch.stack(
        [
            ((pred[k * 16 + i] - full[i, tgts[k, i]]) ** 2).mean()
            for k in range(cfg.n_targets)
            for i in range(16)
        ]
    ).mean()
    torch.testing.assert_close(loss, ref, atol=1e-6, rtol=1e-5)


def test_tjepa_ema_target_moves_toward_the_encoder(data):
    method = tjepa.build(TJEPAConfig(d_token=16, n_heads=2, ema_start=0.5, ema_end=0.5), data)
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for p in method.target.module.parameters()]
    method.on_train_step_end(0, 10)
    for b, t, s in zip(before, method.target.module.parameters(), method.encoder.parameters()):
        torch.testing.assert_close(t, 0.5 * b + 0.5 * s)
    assert not any(p.requires_grad for p in method.target.module.parameters())


def test_tjepa_matryoshka_layout(data):
    cfg = TJEPAConfig(d_token=16, n_heads=2, matryoshka_dims=(4, 8))
    method = apply_nested(tjepa.build(cfg, data), cfg.matryoshka_dims).eval()
    t = method.n + cfg.n_reg_tokens  # feature tokens and regularisation tokens
    assert method.nested_dims == (4 * t, 8 * t, 16 * t)
    batch = batch_of(data, 4)
    emb = method.embed(batch)
    tokens = method.target.module(batch)
    assert tokens.shape[1] == t
    # the first 4 x T coordinates are exactly the first 4 coordinates of every token
    torch.testing.assert_close(emb[:, : 4 * t], tokens[..., :4].transpose(1, 2).reshape(4, -1))
    # without the regularisation tokens: the feature tokens only
    bare = tjepa.build(replace(cfg, embed_reg_tokens=False), data).eval()
    bare.load_state_dict(method.state_dict())
    feats = method.tokens(batch)
    assert bare.embed_dim == 16 * method.n
    torch.testing.assert_close(bare.embed(batch), feats.transpose(1, 2).reshape(4, -1))


def test_periodic_embedding_matches_the_plr_formula():
    torch.manual_seed(0)
    emb = PeriodicEmbedding(n=3, k=4, sigma=0.5, d=5)
    x = torch.randn(7, 3)
    out = emb(x)
    for b in range(7):
        for j in range(3):
            c = emb.frequencies[j]
            v = torch.cat(
                [torch.cos(2 * math.pi * c * x[b, j]), torch.sin(2 * math.pi * c * x[b, j])]
            )
            ref = torch.relu(v @ emb.weight[j] + emb.bias[j])
            torch.testing.assert_close(out[b, j], ref)


@pytest.mark.parametrize("num_embedding", ["linear", "periodic"])
@pytest.mark.parametrize("encoder", ["ft_transformer", "mlp", "resnet"])
@pytest.mark.parametrize(
    "module,cfg_cls", [(tjepa, TJEPAConfig), (scarf, SCARFConfig), (vime, VIMEConfig)]
)
def test_every_method_trains_with_every_encoder(data, module, cfg_cls, encoder, num_embedding):
    torch.manual_seed(0)
    cfg = cfg_cls(
        encoder=encoder,
        d_token=16,
        n_heads=2,
        hidden_dim=32,
        out_dim=16,
        matryoshka_dims=(8,),
        num_embedding=num_embedding,
    )
    method = apply_nested(module.build(cfg, data), cfg.matryoshka_dims)
    opt = torch.optim.AdamW(method.parameters(), lr=1e-3)
    batch = batch_of(data, 32)
    out = method.training_step(batch, 0)
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    method.on_train_step_end(1, 10)
    assert torch.isfinite(out["loss"])
    method.eval()
    emb = method.embed(batch)
    assert emb.shape == (32, method.embed_dim)
    assert method.nested_dims[-1] == method.embed_dim


def test_vime_mask_target_marks_changed_values(data):
    torch.manual_seed(0)
    method = vime.build(VIMEConfig(mask_prob=0.0), data)
    out = method.training_step(batch_of(data, 32), 0)
    # nothing corrupted: the mask estimator's target is all zeros; the loss stays finite
    assert torch.isfinite(out["loss"]) and out["mask"] > 0


def test_matryoshka_losses_are_the_old_per_size_formulas(data):
    """With core's sizes, each method's loss is what its own Matryoshka code computed: one head
    (SCARF) or estimator pair (VIME) per size on the prefix, T-JEPA's latent L2 on every
    token's prefix, averaged over sizes (full width included)."""
    import torch.nn.functional as F

    from sslkit.tabular.methods.tjepa import _gather_tokens, sample_subsets, subset_sizes

    batch = batch_of(data, 32)
    torch.manual_seed(0)
    sc = apply_nested(scarf.build(SCARFConfig(out_dim=16, hidden_dim=32), data), (4, 8))
    assert sc.nested_dims == (4, 8, 16) and [next(h.parameters()).shape[1] for h in sc.heads] == [
        4,
        8,
        16,
    ]
    torch.manual_seed(1)
    got = sc.training_step(batch, 0)["loss"]
    torch.manual_seed(1)
    corrupted, _ = sc.corrupt(batch)
    h, ht = sc.encoder(batch), sc.encoder(corrupted)
    old = [
        sc.loss_fn(torch.stack([head(h[:, :m]), head(ht[:, :m])], dim=1))
        for m, head in zip((4, 8, 16), sc.heads)
    ]
    torch.testing.assert_close(got, torch.stack(old).mean(), rtol=0, atol=0)

    torch.manual_seed(0)
    vi = apply_nested(vime.build(VIMEConfig(out_dim=16, hidden_dim=32), data), (8,))
    torch.manual_seed(2)
    got = vi.training_step(batch, 0)
    torch.manual_seed(2)
    mask = torch.rand(32, vi.n) < vi.cfg.mask_prob
    corrupted = resample_marginals(batch, mask, vi.n_num)
    target = torch.cat([corrupted["num"] != batch["num"], corrupted["cat"] != batch["cat"]], 1)
    h = vi.encoder(corrupted)
    pairs = [est(h[:, :m], batch, target) for m, est in zip((8, 16), vi.estimators)]
    l_mask = torch.stack([p[0] for p in pairs]).mean()
    l_recon = torch.stack([p[1] for p in pairs]).mean()
    torch.testing.assert_close(got["mask"], l_mask)
    torch.testing.assert_close(got["recon"], l_recon)
    torch.testing.assert_close(got["loss"], l_mask + vi.cfg.alpha * l_recon)

    torch.manual_seed(0)
    cfg = TJEPAConfig(d_token=16, n_heads=2)
    tj = apply_nested(tjepa.build(cfg, data), (4, 8))
    assert tj.nested_sizes == (4, 8, 16)
    torch.manual_seed(3)
    got = tj.training_step(batch, 0)["loss"]
    torch.manual_seed(3)
    n_ctx, n_tgt = subset_sizes(cfg, tj.n)
    context, targets = sample_subsets(32, tj.n, n_ctx, n_tgt, cfg.n_targets, False, "cpu")
    with torch.no_grad():
        hh = tj.target(batch)[:, cfg.n_reg_tokens :]
        h_tgt = _gather_tokens(hh.repeat(len(targets), 1, 1), targets.reshape(-1, n_tgt))
    pred = tj.predictor(tj.encoder(batch, keep=context), context, targets)
    old = torch.stack([F.mse_loss(pred[..., :m], h_tgt[..., :m]) for m in (4, 8, 16)]).mean()
    torch.testing.assert_close(got, old, rtol=0, atol=0)
