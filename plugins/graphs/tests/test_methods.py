"""Each method's loss against a hand-written reference of its paper's formula; augmentations,
encoders and the sampler behave as specified."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from sslkit.graphs import augment as A
from sslkit.graphs.configs import GRACEConfig, GraphMAEConfig, HypeBoyConfig
from sslkit.graphs.data.sampler import BuiltinNeighborSampler
from sslkit.graphs.methods.graphcl import graphcl_loss
from sslkit.graphs.methods.graphmae import GraphMAE, sce_loss
from sslkit.graphs.methods.tricl import cross_view_nce


def test_grace_loss_is_the_papers_formula():
    torch.manual_seed(0)
    from sslkit.graphs.methods.grace import GRACE

    m = GRACE(GRACEConfig(hidden_dim=8, proj_dim=8), 4)
    h1, h2 = torch.randn(12, 8), torch.randn(12, 8)

    def semi(a, b, tau=0.4):  # GRACE model.py
        f = lambda s: torch.exp(s / tau)  # noqa: E731
        refl = f(F.normalize(a) @ F.normalize(a).t())
        between = f(F.normalize(a) @ F.normalize(b).t())
        return -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag()))

    ref = ((semi(h1, h2) + semi(h2, h1)) * 0.5).mean()
    assert torch.allclose(m.loss([h1, h2]), ref, atol=1e-5)


def test_graphcl_loss_reference():
    torch.manual_seed(0)
    z1, z2, t = torch.randn(6, 5), torch.randn(6, 5), 0.2
    sim = torch.exp(F.normalize(z1) @ F.normalize(z2).t() / t)
    pos = sim.diag()
    ref = -torch.log(pos / (sim.sum(1) - pos)).mean()
    assert torch.allclose(graphcl_loss(z1, z2, t), ref, atol=1e-5)


def test_tricl_cross_view_reference():
    torch.manual_seed(0)
    a, b, t = torch.randn(7, 4), torch.randn(7, 4), 0.5

    def semi(x, y):
        s = torch.exp(F.normalize(x) @ F.normalize(y).t() / t)
        return -torch.log(s.diag() / s.sum(1))

    ref = ((semi(a, b) + semi(b, a)) * 0.5).mean()
    assert torch.allclose(cross_view_nce(a, b, t), ref, atol=1e-5)


def test_sce_and_graphmae_masking():
    x, y = torch.randn(5, 3), torch.randn(5, 3)
    cos = F.cosine_similarity(x, y, dim=1)
    assert torch.allclose(sce_loss(x, y, 3.0), ((1 - cos) ** 3).mean(), atol=1e-6)
    torch.manual_seed(0)
    m = GraphMAE(GraphMAEConfig(hidden_dim=8, num_heads=2), 6)
    with torch.no_grad():
        m.mask_token.fill_(7.0)
    x = torch.rand(100, 6)
    out, masked = m.mask(x, 100)
    assert masked.numel() == 50
    changed = (out != x).any(1)
    assert set(torch.nonzero(changed).view(-1).tolist()) <= set(masked.tolist())
    token_rows = (out == 7.0).all(1).sum()
    assert int(token_rows) == 50 - int(0.05 * 50)  # 2 of 50 replaced by random nodes


def test_graphmae_gat_starts_from_the_papers_init():
    """Xavier normal with gain sqrt(2): std = sqrt(2) * sqrt(2 / (fan_in + fan_out))."""
    from torch_geometric.nn import GATConv

    torch.manual_seed(0)
    m = GraphMAE(GraphMAEConfig(hidden_dim=512, num_heads=4), 1433)
    convs = [c for c in m.modules() if isinstance(c, GATConv)]
    assert len(convs) == 3  # two encoder layers, one decoder layer
    for conv in convs:
        w = conv.lin.weight
        expected = 2**0.5 * (2 / (w.size(0) + w.size(1))) ** 0.5
        assert abs(float(w.std()) - expected) / expected < 0.02
        # attention vectors (1, heads, C): fan_in = heads * C, fan_out = C
        heads, c = conv.att_src.shape[1:]
        expected = 2**0.5 * (2 / (heads * c + c)) ** 0.5
        for att in (conv.att_src, conv.att_dst):
            assert abs(float(att.std()) - expected) / expected < 0.25
        assert float(conv.bias.abs().max()) == 0.0


def test_hypeboy_filling_query_is_sum_of_other_members():
    from sslkit.graphs.methods.hypeboy import HypeBoy

    torch.manual_seed(0)
    m = HypeBoy(
        HypeBoyConfig(
            hidden_dim=4, warmup_epochs=0, drop_hyperedge=0.0, mask_feature=0.0, dropout=0.0
        ),
        3,
    )
    x = torch.rand(5, 3)
    hi = torch.tensor([[0, 1, 2, 2, 3, 4], [0, 0, 0, 1, 1, 2]])  # sizes 3, 2, 1
    m.eval()
    z = m.encoder(x, hi, 3)
    keys = F.normalize(m.head_node.at(4)(z), dim=1)
    total = 0.0
    for members in ([0, 1, 2], [2, 3]):
        for v in members:
            q = F.normalize(m.head_query.at(4)(z[[u for u in members if u != v]].sum(0)), dim=0)
            logits = keys @ q
            total = total - torch.log_softmax(logits, 0)[v]
    assert torch.allclose(m._filling(x, hi, 3), total, atol=1e-5)


def test_hypeboy_stage_follows_the_engines_step():
    """Warm-up for steps 0..warmup_epochs-1, then filling, by the step passed in: repeated calls
    (micro-batches of one step, evaluation) do not move the stage, and a run resumed at any
    step is in the stage of that step. Old checkpoints with the former ``steps`` counter load."""
    from sslkit.graphs.methods.hypeboy import HypeBoy

    torch.manual_seed(0)
    m = HypeBoy(HypeBoyConfig(hidden_dim=4, warmup_epochs=2), 3)
    g = {
        "x": torch.rand(5, 3),
        "hyperedge_index": torch.tensor([[0, 1, 2, 2, 3, 4], [0, 0, 0, 1, 1, 2]]),
    }
    m.train()
    stages = [m.training_step(g, step)["stage"] for step in (0, 0, 0, 1, 1, 2, 2, 5, 0)]
    assert stages == [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert "steps" not in m.state_dict()

    old = {**m.state_dict(), "steps": torch.tensor(7)}  # a checkpoint of the counter era
    again = HypeBoy(HypeBoyConfig(hidden_dim=4, warmup_epochs=2), 3)
    again.load_state_dict(old, strict=True)
    for k, v in m.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    assert again.training_step(g, 0)["stage"] == 0.0


def test_augmentations():
    torch.manual_seed(0)
    ei = torch.randint(0, 50, (2, 4000))
    kept = A.drop_edges(ei, 0.3).size(1) / 4000
    assert 0.65 < kept < 0.75
    x = torch.rand(20, 100) + 0.1
    m = A.mask_features(x, 0.5)
    zero_cols = (m == 0).all(0)
    assert 20 < int(zero_cols.sum()) < 80 and bool(((m == 0).any(0) == zero_cols).all())
    batch = torch.repeat_interleave(torch.arange(4), 10)
    ring = torch.arange(40)
    ring_ei = torch.stack([ring, torch.where(ring % 10 == 9, ring - 9, ring + 1)])
    ring_ei = torch.cat([ring_ei, ring_ei.flip(0)], 1)
    xs, es, bs = A.drop_nodes(torch.rand(40, 3), ring_ei, 0.99, batch)
    assert set(bs.tolist()) == {0, 1, 2, 3} and (es.numel() == 0 or int(es.max()) < xs.size(0))
    xs, es, bs = A.subgraph(torch.rand(40, 3), ring_ei, 0.5, batch)
    assert torch.bincount(bs).tolist() == [5, 5, 5, 5]
    hi = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    assert A.drop_hyperedges(hi, 1.0).size(1) == 0 and A.drop_hyperedges(hi, 0.0).size(1) == 4


def test_ppr_dense_and_topk_agree():
    ring = torch.arange(30)
    ei = torch.stack([ring, (ring + 1) % 30])
    ei = torch.cat([ei, ei.flip(0)], 1)
    dense = A.ppr_dense(ei, 30, 0.2)
    t = A.gcn_normalized_dense(ei, 30)
    # fixed point of S = alpha I + (1 - alpha) T S
    assert torch.allclose(dense, 0.2 * torch.eye(30) + 0.8 * t @ dense, atol=1e-4)
    idx, w = A.ppr_topk(ei, 30, 0.2, k=30, iters=200)
    sparse = torch.sparse_coo_tensor(idx, w, (30, 30)).to_dense()
    assert torch.allclose(sparse, dense, atol=1e-4)


def test_builtin_sampler():
    torch.manual_seed(0)
    n = 200
    ei = torch.randint(0, n, (2, 3000))
    ei = ei[:, ei[0] != ei[1]]
    g = Data(x=torch.arange(n).float().view(-1, 1), edge_index=ei, num_nodes=n)
    s = BuiltinNeighborSampler(g, [5, 3])
    seeds = torch.tensor([3, 17, 42])
    sub = s.sample(seeds)
    assert sub.batch_size == 3 and torch.equal(sub.n_id[:3], seeds)
    assert torch.equal(sub.x.view(-1).long(), sub.n_id)
    edges = set(map(tuple, ei.t().tolist()))
    glob = sub.n_id[sub.edge_index]
    assert all((int(u), int(v)) in edges for u, v in glob.t())
    # every seed got at most 5 sampled neighbours, and all of them when it has fewer
    indeg = torch.bincount(ei[1], minlength=n)
    for i, v in enumerate(seeds.tolist()):
        got = int((sub.edge_index[1] == i).sum())
        assert got <= 5 and (got == int(indeg[v]) or indeg[v] > 5)
    assert int(s._local.max()) == -1  # scratch buffer reset


def test_grace_learns_on_a_block_graph(make_sbm):
    """A few GRACE steps separate the blocks of an SBM graph better than the raw features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from sslkit.graphs.methods.grace import GRACE

    torch.manual_seed(0)
    ei, x, y = make_sbm(n_per_class=40, features=8, seed=1)
    x = x + np.random.default_rng(0).normal(0, 3, x.shape).astype(np.float32)  # noisy features
    ei = torch.as_tensor(ei)
    g = Data(x=torch.as_tensor(x), edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=len(y))
    m = GRACE(GRACEConfig(hidden_dim=16, proj_dim=16), 8)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for step in range(30):
        opt.zero_grad()
        m.training_step(g, step)["loss"].backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        z = m.node_embeddings(g.x, g.edge_index).numpy()
    acc_z = cross_val_score(LogisticRegression(max_iter=500), z, y, cv=4).mean()
    acc_x = cross_val_score(LogisticRegression(max_iter=500), x, y, cv=4).mean()
    assert acc_z > acc_x + 0.1, (acc_z, acc_x)
