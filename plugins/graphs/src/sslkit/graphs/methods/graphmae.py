"""GraphMAE: Hou, Liu, Cen, Dong, Yang, Wang, Tang, "GraphMAE: Self-Supervised Masked Graph
Autoencoders" (KDD 2022).

A random ``mask_rate`` of the nodes have their features replaced: most by a learnable
``[MASK]`` token, a ``replace_rate`` share by the features of random other nodes. A GAT encoder
embeds the corrupted graph; a linear map takes the embeddings to the decoder, whose inputs are
re-masked (set to zero at the masked nodes), and a one-layer GAT decoder reconstructs the input
features. The loss is the scaled cosine error ``(1 - cos(x_i, z_i))^alpha`` averaged over the
masked nodes. The embedding is the encoder's output on the uncorrupted graph. The GAT layers
start from the paper code's initialisation (Xavier normal, ReLU gain), not PyG's.

Matryoshka (``method.matryoshka_dims``): the loss goes through ``Method.nested``: for each size
``m`` a decoder path of its own (the linear map ``m -> m``, the re-mask, a GAT decoder ``m ->
features``) reconstructs the masked features from the first ``m`` coordinates of the encoder's
codes, as GraphMAE with an ``m``-wide embedding would; the losses are averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.graphs.augment import drop_edges
from sslkit.graphs.configs import GraphMAEConfig
from sslkit.graphs.encoders import build_encoder, gat_xavier_relu_init
from sslkit.graphs.methods.base import GraphMethod, graph_inputs, seed_count, unwrap


def sce_loss(x: Tensor, y: Tensor, alpha: float = 3.0) -> Tensor:
    """Scaled cosine error, GraphMAE eq. 4: ``mean_i (1 - cos(x_i, y_i))^alpha``."""
    cos = (F.normalize(x, dim=-1) * F.normalize(y, dim=-1)).sum(-1)
    return (1 - cos).pow(alpha).mean()


class GraphMAE(GraphMethod):
    matryoshka = True

    def __init__(self, cfg: GraphMAEConfig, in_dim: int):
        super().__init__(cfg)
        self.embed_dim = cfg.hidden_dim
        self.encoder = build_encoder(cfg, in_dim)

        def decoder(m: int) -> nn.Module:
            return build_encoder(
                cfg, m, dims=[in_dim], heads=cfg.num_out_heads, last_activation=False
            )

        # the full-width decoder is built before the encoder's init, as it always was (same
        # seeded weights); the decoders of other sizes are initialised when they are made
        full = [decoder(cfg.hidden_dim)]
        gat_xavier_relu_init(self.encoder)
        gat_xavier_relu_init(full[0])
        self.decoder = self.nested_heads(lambda m: full.pop() if full else _initialised(decoder(m)))
        self.encoder_to_decoder = self.nested_heads(lambda m: nn.Linear(m, m, bias=False))
        self.mask_token = nn.Parameter(torch.zeros(1, in_dim))

    def mask(self, x: Tensor, candidates: int) -> tuple[Tensor, Tensor]:
        """Corrupt ``mask_rate`` of the first ``candidates`` nodes; returns (x, masked ids)."""
        c = self.cfg
        perm = torch.randperm(candidates, device=x.device)
        masked = perm[: int(c.mask_rate * candidates)]
        out = x.clone()
        if c.replace_rate > 0:
            k = masked.numel()
            order = torch.randperm(k, device=x.device)
            n_noise = int(c.replace_rate * k)
            token = masked[order[: k - n_noise]]
            noise = masked[order[k - n_noise :]]
            out[token] = 0.0
            out[noise] = x[torch.randperm(x.size(0), device=x.device)[:n_noise]]
        else:
            token = masked
            out[token] = 0.0
        out[token] += self.mask_token
        return out, masked

    def training_step(self, batch, step: int):
        batch = unwrap(batch)
        x, ei = graph_inputs(batch)
        b = seed_count(batch)
        use_x, masked = self.mask(x, b)
        use_ei = drop_edges(ei, self.cfg.drop_edge)

        def reconstruct(h: Tensor, m: int) -> Tensor:
            rep = self.encoder_to_decoder.at(m)(h)
            rep = rep.index_fill(0, masked, 0.0)  # re-mask before decoding
            recon = self.decoder.at(m)(rep, use_ei)
            return sce_loss(recon[masked], x[masked], self.cfg.alpha)

        loss = self.nested(self.encoder(use_x, use_ei), reconstruct)
        return {"loss": loss + self.l2_penalty(), "sce": loss.detach()}


def _initialised(decoder: nn.Module) -> nn.Module:
    gat_xavier_relu_init(decoder)
    return decoder


def build(cfg: GraphMAEConfig, data) -> GraphMAE:
    return GraphMAE(cfg, int(data.info["num_features"]))
