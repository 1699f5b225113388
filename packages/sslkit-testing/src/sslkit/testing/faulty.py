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


unused_parameter = _variant("unuseddigits", build_unused)
private_rng = _variant("rngdigits", build_private_rng)
