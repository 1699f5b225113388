"""TriCL: Lee & Shin, "I'm Me, We're Us, and I'm Us: Tri-directional Contrastive Learning on
Hypergraphs" (AAAI 2023).

Two views of the hypergraph, each with feature entries masked (``drop_feature``) and
node-hyperedge memberships dropped (``drop_membership``), go through one set-based hypergraph
encoder (node -> hyperedge -> node, with a single-node hyperedge per node) that returns node
and hyperedge embeddings. Three contrasts, weighted ``1 : weight_group : weight_membership``:

- node level: node ``i`` of view 1 against node ``i`` of view 2, the other nodes of the other
  view as negatives (cosine over ``tau_node``, after a projection head), both directions;
- group level: the same for hyperedges present in both views;
- membership level: a bilinear critic scores (node of one view, hyperedge of the other) for
  every membership against a random hyperedge and a random node (``exp(sigmoid(D)/tau)``).

The node and group losses use only cross-view negatives (the paper's ``__semi_loss``), which
is not the core InfoNCE (that one also uses same-view negatives), hence ``cross_view_nce``.

Matryoshka (``method.matryoshka_dims``): the embedding is the node embedding; the encoder's
hyperedge embeddings live in the same space (each layer makes them from the node side and
back), so a size ``m`` takes the first ``m`` coordinates of both, as a TriCL of width ``m``
would. The loss goes through ``Method.nested``: per size, node and hyperedge projection heads
of their own read the first ``m`` coordinates (their other widths those of the full heads)
and a membership critic of its own scores their projections; the random negatives of the
membership contrast are drawn once and shared by every size. The losses are averaged term by
term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.graphs.augment import drop_membership, mask_entries
from sslkit.graphs.configs import TriCLConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import HypergraphMethod, hypergraph_inputs, unwrap
from sslkit.graphs.methods.dgi import bilinear


def cross_view_nce(h1: Tensor, h2: Tensor, tau: float) -> Tensor:
    """``mean_i -log(e^{s(h1_i, h2_i)/t} / sum_j e^{s(h1_i, h2_j)/t})``, symmetrised."""
    sim = F.normalize(h1.float(), dim=1) @ F.normalize(h2.float(), dim=1).t() / tau
    target = torch.arange(sim.size(0), device=sim.device)
    return 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.t(), target))


class TriCL(HypergraphMethod):
    matryoshka = True

    def __init__(self, cfg: TriCLConfig, in_dim: int):
        super().__init__(cfg)
        h, p = cfg.hidden_dim, cfg.proj_dim
        self.embed_dim = h
        self.encoder = build_encoder(cfg, in_dim, act="prelu", node_loops="all")
        self.proj_node = self.nested_heads(
            lambda m: nn.Sequential(nn.Linear(m, p), nn.ELU(), nn.Linear(p, h))
        )
        self.proj_edge = self.nested_heads(
            lambda m: nn.Sequential(nn.Linear(m, p), nn.ELU(), nn.Linear(p, h))
        )
        self.disc = self.nested_heads(lambda m: nn.Bilinear(h, h, 1))

    def _membership(
        self, n: Tensor, e: Tensor, index: Tensor, perms: tuple[Tensor, Tensor], disc: nn.Bilinear
    ) -> Tensor:
        tau = self.cfg.tau_membership
        v, k = index
        e_perm = e[perms[0]]
        n_perm = n[perms[1]]

        def score(a, b):
            return torch.sigmoid(bilinear(disc, a, b)) / tau

        pos = score(n[v], e[k])
        neg_e = score(n[v], e_perm[k])
        neg_n = score(n_perm[v], e[k])
        # -log(e^pos / (e^pos + e^neg)) = softplus(neg - pos)
        return (F.softplus(neg_e - pos) + F.softplus(neg_n - pos)).mean()

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, hi, m = hypergraph_inputs(batch)
        c = self.cfg
        hi1, hi2 = drop_membership(hi, c.drop_membership), drop_membership(hi, c.drop_membership)
        n1, e1 = self.encoder(mask_entries(x, c.drop_feature), hi1, m, return_edges=True)
        n2, e2 = self.encoder(mask_entries(x, c.drop_feature), hi2, m, return_edges=True)
        valid1 = torch.zeros(m, dtype=torch.bool, device=x.device)
        valid1[hi1[1]] = True
        valid2 = torch.zeros(m, dtype=torch.bool, device=x.device)
        valid2[hi2[1]] = True
        both = valid1 & valid2
        in2 = hi[:, valid2[hi[1]]]
        in1 = hi[:, valid1[hi[1]]]

        def draw() -> tuple[Tensor, Tensor]:  # negatives: a random hyperedge, a random node
            return (
                torch.randperm(e1.size(0), device=e1.device),
                torch.randperm(n1.size(0), device=n1.device),
            )

        perms = (draw(), draw())

        def tri(t: tuple[Tensor, ...], k: int) -> dict[str, Tensor]:
            n1, n2, e1, e2 = t
            proj_node, proj_edge = self.proj_node.at(k), self.proj_edge.at(k)
            disc = self.disc.at(k)
            p1, p2 = proj_node(n1), proj_node(n2)
            q1, q2 = proj_edge(e1), proj_edge(e2)
            loss_n = cross_view_nce(p1, p2, c.tau_node)
            loss_g = cross_view_nce(q1[both], q2[both], c.tau_group) if both.any() else p1.sum() * 0
            loss_m = 0.5 * (
                self._membership(p1, q2, in2, perms[0], disc)
                + self._membership(p2, q1, in1, perms[1], disc)
            )
            loss = loss_n + c.weight_group * loss_g + c.weight_membership * loss_m
            return {
                "loss": loss,
                "node": loss_n.detach(),
                "group": loss_g.detach(),
                "membership": loss_m.detach(),
            }

        return self.nested((n1, n2, e1, e2), tri)


def build(cfg: TriCLConfig, data) -> TriCL:
    return TriCL(cfg, int(data.info["num_features"]))
