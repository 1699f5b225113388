"""The encoder against a hand-written GIN layer, the views against MolCLR's and Hu et al.'s
rules, and the losses against hand-written formulas."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data

from sslkit.molecules.augment import MaskAtoms, MolCLRViews, remove_subgraph
from sslkit.molecules.configs import AttrMaskConfig, MolCLRConfig
from sslkit.molecules.data import batch_inputs
from sslkit.molecules.data.featurise import HU, featurise
from sslkit.molecules.encoders import EdgeGINConv, FastAggregation, MoleculeGNN, pool
from sslkit.molecules.methods.attrmask import AttrMask
from sslkit.molecules.methods.molclr import MolCLR

INFO = HU.info()


def mol_graph(smiles: str) -> Data:
    from rdkit import Chem

    x, ei, ea = featurise(Chem.MolFromSmiles(smiles))
    return Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei),
                edge_attr=torch.from_numpy(ea), num_nodes=len(x))  # fmt: skip


def test_edge_gin_layer_is_hu_et_al_s():
    torch.manual_seed(0)
    conv = EdgeGINConv(4, HU.bond_vocab, HU.self_loop)
    g = mol_graph("CCO")
    h = torch.randn(3, 4)
    emb = conv.bond.tables
    # by hand: atom i sums h_j + bond(j -> i) over its bonded neighbours j, plus its own h_i
    # with the self-loop bond (type 4, direction 0), then the MLP
    expected = []
    for i in range(3):
        total = h[i] + emb[0].weight[4] + emb[1].weight[0]
        for (j, k), attr in zip(g.edge_index.t().tolist(), g.edge_attr.tolist()):
            if k == i:
                total = total + h[j] + emb[0].weight[attr[0]] + emb[1].weight[attr[1]]
        expected.append(conv.mlp(total))
    torch.testing.assert_close(conv(h, g.edge_index, g.edge_attr), torch.stack(expected))
    fast = FastAggregation(3, g.edge_index, g.edge_attr, conv)  # the CPU path of the GNN
    torch.testing.assert_close(conv(h, g.edge_index, g.edge_attr, fast), torch.stack(expected))


def test_the_fast_aggregation_gives_the_index_add_sums_and_gradients(monkeypatch):
    """Batched molecules with a directed double bond, a ring and a charged salt: the GNN's
    CPU path (CSR product and bond counts) and the traced path (index_add) agree, gradients
    of every parameter included."""
    torch.manual_seed(0)
    graphs = [mol_graph(s) for s in ("C/C=C/C", "c1ccccc1O", "[Na+].CC(=O)[O-]", "C")]
    inputs = batch_inputs(graphs)
    gnn = MoleculeGNN(HU.atom_vocab, HU.bond_vocab, HU.self_loop, hidden_dim=8, num_layers=3)

    def run():
        gnn.zero_grad()
        h = gnn(inputs["x"], inputs["edge_index"], inputs["edge_attr"])
        (h * torch.linspace(-1, 1, h.numel()).view_as(h)).sum().backward()
        return h.detach(), {n: p.grad.clone() for n, p in gnn.named_parameters()}

    fast_h, fast_grads = run()
    monkeypatch.setattr(FastAggregation, "usable", staticmethod(lambda x: False))
    slow_h, slow_grads = run()
    torch.testing.assert_close(fast_h, slow_h)
    for name, grad in slow_grads.items():
        torch.testing.assert_close(
            fast_grads[name], grad, rtol=1e-4, atol=1e-4, msg=lambda m, n=name: f"{n}: {m}"
        )


def test_the_gnn_runs_under_bf16_autocast_as_on_cuda():
    """bf16 autocast (CUDA's default precision) takes the edge path, where bf16 activations
    meet fp32 bond embeddings: it failed on an H200 ("index_add_(): self (BFloat16) and source
    (Float)"). Under CPU autocast the same path runs; its atoms agree with fp32 to bf16's
    precision and every parameter gets a finite gradient."""
    torch.manual_seed(0)
    graphs = [mol_graph(s) for s in ("C/C=C/C", "c1ccccc1O", "[Na+].CC(=O)[O-]")]
    inputs = batch_inputs(graphs)
    gnn = MoleculeGNN(HU.atom_vocab, HU.bond_vocab, HU.self_loop, hidden_dim=16, num_layers=3)
    gnn.eval()  # BatchNorm's running statistics: the same normalisation in both precisions
    fp32 = gnn(inputs["x"], inputs["edge_index"], inputs["edge_attr"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not FastAggregation.usable(fp32)
        h = gnn(inputs["x"], inputs["edge_index"], inputs["edge_attr"])
    assert h.dtype == torch.bfloat16
    torch.testing.assert_close(h.float(), fp32, rtol=0.05, atol=0.05)
    h.float().pow(2).sum().backward()
    for name, param in gnn.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_pooling_per_molecule():
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, -6.0]])
    batch, atoms = torch.tensor([0, 0, 1]), torch.tensor([2, 1])
    assert pool(h, batch, atoms, "mean").tolist() == [[2.0, 3.0], [5.0, -6.0]]
    assert pool(h, batch, atoms, "sum").tolist() == [[4.0, 6.0], [5.0, -6.0]]
    assert pool(h, batch, atoms, "max").tolist() == [[3.0, 4.0], [5.0, -6.0]]


def test_mask_atoms_as_hu_et_al():
    g = mol_graph("CC(=O)Nc1ccc(O)cc1")  # paracetamol, 11 heavy atoms
    before = g.x.clone()
    out = MaskAtoms(0.15, HU.mask_atom)(g, torch.Generator().manual_seed(0))
    k = int(11 * 0.15 + 1)  # Hu et al.: int(n * rate + 1) = 2
    idx = out.masked_atom_index
    assert idx.numel() == k == len(set(idx.tolist()))
    assert out.x[idx].tolist() == [[119, 0]] * k
    assert out.mask_label.tolist() == before[idx, 0].tolist()
    assert torch.equal(g.x, before)  # the input is left as it was
    b = Batch.from_data_list([out, out])  # the index is offset per molecule when batched
    assert b.masked_atom_index.tolist() == [*idx.tolist(), *(idx + 11).tolist()]


def test_remove_subgraph_breadth_first():
    chain = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])  # 0-1-2-3-4
    assert remove_subgraph(chain, 5, center=2, count=3) == [2, 1, 3]
    assert remove_subgraph(chain, 5, center=0, count=2) == [0, 1]
    apart = torch.tensor([[0, 1], [1, 0]])  # atoms 2, 3 are isolated: never more than found
    assert remove_subgraph(apart, 4, center=2, count=3) == [2]


def test_molclr_node_view_counts():
    g = mol_graph("CC(=O)Nc1ccc(O)cc1")  # 11 atoms, 11 bonds
    view = MolCLRViews("node", 0.25, 0.2, HU.mask_atom).view(g, torch.Generator().manual_seed(1))
    assert (view.x[:, 0] == 119).sum() == math.floor(0.25 * 11)  # 2 atoms masked
    assert view.edge_index.size(1) == 2 * (11 - math.floor(0.25 * 11))  # 2 bonds deleted
    pairs = set(map(tuple, view.edge_index.t().tolist()))
    assert all((b, a) in pairs for a, b in pairs)  # a bond goes with both its directions


def test_molclr_mix_view_counts():
    g = mol_graph("CC(=O)Nc1ccc(O)cc1")
    for seed in range(10):
        v = MolCLRViews("mix", 0.25, 0.2, HU.mask_atom).view(g, torch.Generator().manual_seed(seed))
        masked = int((v.x[:, 0] == 119).sum())
        assert masked == math.floor(0.25 * 11)  # subgraph (<= floor(0.2 n)) topped up to 2
        assert v.edge_index.size(1) // 2 <= math.ceil(0.75 * 11)  # at least 25% of bonds gone
        assert v.edge_index.size(1) % 2 == 0  # bonds deleted with both directions


def test_attrmask_loss_is_cross_entropy_of_the_masked_atoms():
    torch.manual_seed(0)
    method = AttrMask(AttrMaskConfig(hidden_dim=16, num_layers=2), INFO)
    views = method.train_transform()
    graphs = [views(mol_graph(s), torch.Generator().manual_seed(i))
              for i, s in enumerate(["CCO", "c1ccccc1N", "CC(=O)O"])]  # fmt: skip
    batch = Batch.from_data_list(graphs)
    out = method.training_step(batch, 0)
    h = method.encoder.gnn(batch.x, batch.edge_index, batch.edge_attr)
    logits = h[batch.masked_atom_index] @ method.head.weight.t() + method.head.bias
    by_hand = -F.log_softmax(logits, -1)[torch.arange(len(logits)), batch.mask_label].mean()
    torch.testing.assert_close(out["loss"], by_hand)


def molclr_nt_xent(zi: torch.Tensor, zj: torch.Tensor, t: float) -> torch.Tensor:
    """MolCLR's NTXentLoss (utils/nt_xent.py) written out: reps = [zj, zi], cosine similarity,
    the positive is the other view, the 2N - 2 others the negatives, summed CE / 2N."""
    n = zi.size(0)
    reps = F.normalize(torch.cat([zj, zi]), dim=1)
    sim = reps @ reps.t()
    total = 0.0
    for a in range(2 * n):
        pos = sim[a, (a + n) % (2 * n)]
        negs = [sim[a, b] for b in range(2 * n) if b != a and b != (a + n) % (2 * n)]
        logits = torch.stack([pos, *negs]) / t
        total = total - F.log_softmax(logits, 0)[0]
    return total / (2 * n)


def test_molclr_loss_is_molclrs_nt_xent():
    torch.manual_seed(0)
    cfg = MolCLRConfig(hidden_dim=16, num_layers=2, feat_dim=16)
    method = MolCLR(cfg, INFO)
    views = method.train_transform()
    pairs = [views(mol_graph(s), torch.Generator().manual_seed(i))
             for i, s in enumerate(["CCO", "c1ccccc1N", "CC(=O)O", "CCCCN"])]  # fmt: skip
    first, second = (Batch.from_data_list(list(v)) for v in zip(*pairs))
    loss = method.training_step((first, second), 0)["loss"]
    head = method.head.at(16)
    zi, zj = head(method.encoder(first)), head(method.encoder(second))
    torch.testing.assert_close(loss, molclr_nt_xent(zi, zj, cfg.temperature))


def test_embedder_reads_dict_inputs_and_batches_alike():
    torch.manual_seed(0)
    method = MolCLR(MolCLRConfig(hidden_dim=8, num_layers=2, embed="feature", feat_dim=12), INFO)
    graphs = [mol_graph(s) for s in ("CCO", "c1ccccc1", "N")]
    method.eval()
    z = method.embed(batch_inputs(graphs))
    assert z.shape == (3, 12) and method.embed_dim == 12
    torch.testing.assert_close(z, method.encoder(Batch.from_data_list(graphs)))
    spec = method.encoder_spec()
    assert spec["build"].endswith(":MoleculeEmbedder") and spec["kwargs"]["out_dim"] == 12


def test_graphmae_loss_is_the_scaled_cosine_error_of_the_remasked_decoder():
    from sslkit.molecules.configs import GraphMAEConfig
    from sslkit.molecules.methods.graphmae import GraphMAE, sce_loss

    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pred = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    # cosines 3/5 and 1/sqrt(2); alpha 2: ((1 - 0.6)^2 + (1 - 0.7071068)^2) / 2
    by_hand = ((1 - 0.6) ** 2 + (1 - 1 / math.sqrt(2)) ** 2) / 2
    assert abs(float(sce_loss(target, pred, 2.0)) - by_hand) < 1e-6

    torch.manual_seed(0)
    method = GraphMAE(GraphMAEConfig(hidden_dim=8, num_layers=2), INFO)
    rng = torch.Generator().manual_seed(0)
    views = [method.train_transform()(mol_graph(s), rng) for s in ("CCO", "c1ccccc1N")]
    batch = Batch.from_data_list(views)
    masked = batch.masked_atom_index
    assert masked.tolist() == [views[0].masked_atom_index.item(),
                               *(views[1].masked_atom_index + 3).tolist()]  # fmt: skip
    h = method.encoder.atoms(batch)
    dec = method.decoder
    x = dec.enc_to_dec(dec.activation(h))
    x = x.clone()
    x[masked] = 0  # re-masked by hand
    out = dec.conv(x, batch.edge_index, batch.edge_attr)[masked]
    expected = sce_loss(F.one_hot(batch.mask_label, 119).float(), out)
    torch.testing.assert_close(method.training_step(batch, 0)["loss"], expected)
    assert len(views[0].masked_atom_index) == int(3 * 0.25 + 1)  # GraphMAE chem's rate 0.25


def test_tanimoto_and_cosine_neighbours_by_hand():
    import numpy as np

    from sslkit.molecules.similarity import cosine_neighbours, tanimoto

    a = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
    b = np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    # |a & b| / |a | b|: 1/3, 2/2, 0/2; an empty pair counts as identical
    assert np.allclose(tanimoto(a, b), [[1 / 3, 1.0, 0.0], [0.0, 0.0, 1.0]])
    library = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    sims, idx = cosine_neighbours(np.array([[3.0, 0.1]]), library, 2)
    assert idx.tolist() == [[0, 2]] and abs(sims[0, 1] - (3.1 / np.sqrt(9.01) / np.sqrt(2))) < 1e-5
