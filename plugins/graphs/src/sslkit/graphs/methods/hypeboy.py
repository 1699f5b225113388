"""HypeBoy: Kim, Kang, Bu, Lee, Yoo, Shin, "HypeBoy: Generative Self-Supervised Representation
Learning on Hypergraphs" (ICLR 2024).

Two stages, as in the paper and its code:

1. Feature-reconstruction warm-up (the first ``warmup_epochs`` optimizer steps, by the step the
   engine passes, so a resumed run continues in its stage): the features of ``warmup_mask_rate``
   of the nodes are replaced by a learnable input token, hyperedges are dropped with
   ``warmup_drop_hyperedge``, the encoder's embeddings of the masked nodes are replaced by a
   learnable embedding token and a hypergraph decoder reconstructs the features; loss
   ``mean (1 - cos(x_v, x_hat_v))`` over masked nodes.
2. Hyperedge filling: on a view with feature entries masked (``mask_feature``) and hyperedges
   dropped (``drop_hyperedge``; nodes left in no hyperedge get a single-node one), for every
   hyperedge ``e`` of size >= 2 and member ``v``, the query ``e \\ {v}`` (the sum of its
   members' embeddings through head ``psi``) must pick ``v`` among *all* nodes (through head
   ``phi``): ``-log softmax_v(cos(psi(sum_{u in e, u != v} z_u), phi(z_v)))``, summed.

The encoder is UniGCNII (the paper's backbone); the embedding is its output.

Matryoshka (``method.matryoshka_dims``): both stages go through ``Method.nested``, the heads
reading the embedding made per size: the warm-up's decoder reads the first ``m`` coordinates
of the (token-masked) embeddings, and hyperedge filling's heads ``phi`` and ``psi`` read the
first ``m`` coordinates of the node embeddings and of the queries (a query is a sum of node
embeddings, so its prefix is the sum of theirs); the losses are averaged.

Under DDP the method sets ``find_unused_parameters``: each stage trains its own parameters
(the decoder and mask tokens, then the two heads), so some are unused in every step by design;
a model change would mean two models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from sslkit.graphs.augment import drop_hyperedges, mask_entries
from sslkit.graphs.configs import HypeBoyConfig
from sslkit.graphs.encoders import build_encoder
from sslkit.graphs.methods.base import HypergraphMethod, hypergraph_inputs, unwrap


class HypeBoy(HypergraphMethod):
    find_unused_parameters = True
    matryoshka = True

    def __init__(self, cfg: HypeBoyConfig, in_dim: int):
        super().__init__(cfg)
        h = cfg.hidden_dim
        self.embed_dim = h
        self.encoder = build_encoder(cfg, in_dim, node_loops="isolated")
        self.decoder = self.nested_heads(
            lambda m: build_encoder(cfg, m, hidden_dim=in_dim, node_loops="isolated")
        )
        self.input_mask = nn.Parameter(torch.zeros(in_dim))
        self.embedding_mask = nn.Parameter(torch.zeros(h))
        self.head_node = self.nested_heads(
            lambda m: nn.Sequential(nn.Linear(m, h), nn.ReLU(), nn.Linear(h, h))
        )
        self.head_query = self.nested_heads(
            lambda m: nn.Sequential(nn.Linear(m, h), nn.ReLU(), nn.Linear(h, h))
        )

    def _warmup(self, x: Tensor, hi: Tensor, m: int) -> Tensor:
        c = self.cfg
        n = x.size(0)
        masked = torch.randperm(n, device=x.device)[: int(n * c.warmup_mask_rate)]
        use_x = x.clone()
        use_x[masked] = self.input_mask
        view = drop_hyperedges(hi, c.warmup_drop_hyperedge, m)
        z = self.encoder(use_x, view, m)
        z = z.index_copy(0, masked, self.embedding_mask.expand(masked.numel(), -1))

        def reconstruct(z_k: Tensor, k: int) -> Tensor:
            recon = self.decoder.at(k)(z_k, view, m)
            return (1 - F.cosine_similarity(x[masked], recon[masked], dim=1, eps=1e-6)).mean()

        return self.nested(z, reconstruct)

    def _filling(self, x: Tensor, hi: Tensor, m: int) -> Tensor:
        c = self.cfg
        view = drop_hyperedges(hi, c.drop_hyperedge, m)
        z = self.encoder(mask_entries(x, c.mask_feature), view, m)
        v, e = hi
        size = torch.bincount(e, minlength=m)
        keep = size[e] >= 2
        v, e = v[keep], e[keep]
        edge_sum = scatter(z[v], e, dim=0, dim_size=m, reduce="sum")
        query = edge_sum[e] - z[v]  # sum over the other members of the hyperedge

        def fill(zq: tuple[Tensor, Tensor], k: int) -> Tensor:
            keys = F.normalize(self.head_node.at(k)(zq[0]), dim=1)
            q = F.normalize(self.head_query.at(k)(zq[1]), dim=1)
            logits = q @ keys.t()
            return (torch.logsumexp(logits, 1) - logits[torch.arange(v.numel()), v]).sum()

        return self.nested((z, query), fill)

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, hi, m = hypergraph_inputs(batch)
        warm = step < self.cfg.warmup_epochs
        loss = self._warmup(x, hi, m) if warm else self._filling(x, hi, m)
        return {"loss": loss + self.l2_penalty(), "stage": 0.0 if warm else 1.0}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints of before the engine passed the step held the method's own counter
        state_dict.pop(prefix + "steps", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def build(cfg: HypeBoyConfig, data) -> HypeBoy:
    return HypeBoy(cfg, int(data.info["num_features"]))
