"""Digits plugins that each break one contract, so that the conformance kit's own tests show it
catches the fault (a kit that passes everything proves nothing). Module-level objects: the
kit's child processes import them from here."""

from __future__ import annotations

import dataclasses
from typing import Any

from sslkit.core.plugin import Registry
from sslkit.testing.digits import plugin as digits


def build_unused(cfg: Any, data: Any) -> Any:
    """SimCLR with a parameter no step uses: DDP's gradient sync stalls on it."""
    import torch

    from sslkit.testing.digits_impl import build_simclr

    method = build_simclr(cfg, data)
    method.spare = torch.nn.Parameter(torch.zeros(3))
    return method


class PrivateViews:
    """Views from a generator of the transform's own, ignoring the engine's per-example ``rng``:
    no checkpoint holds that generator, so a resumed process starts it again."""

    def __init__(self, noise: float = 0.5):
        self.noise = noise
        self.generator: Any = None

    def __call__(self, example: Any, rng: Any) -> Any:
        import torch

        if self.generator is None:
            self.generator = torch.Generator().manual_seed(0)
        x = example[0]
        return (x + self.noise * torch.randn((2, *x.shape), generator=self.generator),)


def build_private_rng(cfg: Any, data: Any) -> Any:
    """SimCLR whose views come from a generator of its own that no checkpoint holds: a resumed
    run draws other views than the uninterrupted one."""
    from sslkit.testing.digits_impl import build_simclr

    method = build_simclr(cfg, data)
    method.train_transform = PrivateViews
    return method


def _variant(name: str, build: Any) -> Any:
    spec = dataclasses.replace(digits.methods["simclr"], build=build)
    return dataclasses.replace(digits, name=name, methods=Registry("method", [spec]), presets="")


def build_mixed_precision(cfg: Any, data: Any) -> Any:
    """SimCLR whose encoder sums with ``index_add`` into a buffer of the activations' dtype
    what an fp32 parameter was added to: fine in fp32, a dtype error under bf16 autocast (as
    the molecules GIN was on CUDA)."""
    import torch

    from sslkit.testing.digits_impl import build_simclr

    class MixedSum(torch.nn.Module):
        def __init__(self, encoder: Any, dim: int):
            super().__init__()
            self.encoder, self.bias = encoder, torch.nn.Parameter(torch.zeros(dim))

        def forward(self, x: Any) -> Any:
            h = self.encoder(x)  # bf16 under autocast; h + bias is fp32
            rows = torch.arange(h.size(0), device=h.device)
            return torch.zeros_like(h).index_add(0, rows, h + self.bias)

    method = build_simclr(cfg, data)
    method.encoder = MixedSum(method.encoder, cfg.embed_dim)
    return method


unused_parameter = _variant("unuseddigits", build_unused)
mixed_precision = _variant("bf16digits", build_mixed_precision)
private_rng = _variant("rngdigits", build_private_rng)
