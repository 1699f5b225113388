"""Context prediction (Hu et al. 2020): the substructure / context pair worked by hand on a
chain, and the CBOW loss against the binary cross-entropy written out."""

from __future__ import annotations

import math

import torch
from torch_geometric.data import Data

from sslkit.molecules.augment import SubstructContext


def _chain(n: int) -> Data:
    """A chain of n atoms 0-1-...-(n-1): atom i has type i (to follow it), single bonds."""
    src = torch.arange(n - 1)
    edge_index = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
    x = torch.stack([torch.arange(n), torch.zeros(n, dtype=torch.long)], dim=1)
    return Data(x=x, edge_index=edge_index, edge_attr=torch.zeros(2 * (n - 1), 2).long(),
                num_nodes=n)  # fmt: skip


def test_substructure_and_context_by_hand_on_a_chain():
    cut = SubstructContext(k=5, l1=4, l2=7)  # Hu et al.: 5 layers, context 4 < d <= 7
    rng = torch.Generator().manual_seed(0)
    # centre 2 of a 10-atom chain: substructure atoms 0..7 (within 5 bonds), context atoms
    # 7, 8, 9 (5, 6, 7 bonds away), anchors: atom 7 (in both), first in the context
    sub, ctx = cut(_chain(10), rng, center=2)
    assert sub.x[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert sub.center_substruct_index.tolist() == [2]
    assert sub.edge_index.size(1) == 2 * 7  # the chain's bonds among atoms 0..7
    assert ctx.x[:, 0].tolist() == [7, 8, 9] and ctx.edge_index.size(1) == 2 * 2
    assert ctx.overlap_context_index.tolist() == [0]
    # centre 0 of a 5-atom chain: no atom is more than 4 bonds away, so no context
    sub, ctx = cut(_chain(5), rng, center=0)
    assert int(sub.num_nodes) == 5 and int(ctx.num_nodes) == 0


def test_contextpred_loss_is_the_binary_cross_entropy_written_out():
    from sslkit.molecules.methods.contextpred import contextpred_loss, cycle_index

    assert cycle_index(4, 1).tolist() == [1, 2, 3, 0]
    assert cycle_index(4, 2).tolist() == [2, 3, 0, 1]
    sub = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    ctx = torch.tensor([[0.5, 0.0], [0.0, -1.0], [2.0, 0.0]])

    def softplus(v: float) -> float:
        return math.log1p(math.exp(v))

    pos = [0.5, -2.0, 2.0]  # sub_i . ctx_i
    neg1 = [0.0, 0.0, 0.5]  # sub_i . ctx_{i+1}
    neg2 = [2.0, 0.0, -1.0]  # sub_i . ctx_{i+2}
    expected = sum(softplus(-p) for p in pos) / 3 + 2 * sum(softplus(v) for v in neg1 + neg2) / 6
    loss, acc = contextpred_loss(sub, ctx, neg_samples=2)
    assert abs(float(loss) - expected) < 1e-6
    assert abs(float(acc) - 0.5 * (2 / 3 + 1 / 6)) < 1e-6  # neg < 0: only -1.0 of six


def test_a_few_steps_lower_the_loss_on_bbbp(tmp_path):
    from sslkit.core import api

    res = api.pretrain(
        "molecules",
        "contextpred",
        overrides=[
            "data.pretrain_data=self",
            "data.max_rows=400",
            "method.hidden_dim=32",
            "train.max_steps=12",
            "train.batch_size=64",
            "train.quiet=true",
            f"train.out={tmp_path}",
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    first, last = sum(res.losses[:3]) / 3, sum(res.losses[-3:]) / 3
    assert last < first, res.losses
