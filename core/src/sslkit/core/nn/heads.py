"""Projector and predictor MLPs (SimCLR, BYOL, SimSiam, VICReg, Barlow Twins heads)."""

from __future__ import annotations

from torch import nn

__all__ = ["MLPHead"]


class MLPHead(nn.Sequential):
    """``num_layers`` linear layers; between them BatchNorm1d (optional) and ReLU.

    ``MLPHead(2048, 4096, 256)`` is BYOL's projector/predictor; ``num_layers=3`` with
    ``last_batchnorm=True`` gives SimSiam's projector and Barlow Twins'/VICReg's expanders use
    ``num_layers=3``. Inputs may be ``(batch, in_dim)`` or ``(batch, ..., in_dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        batchnorm: bool = True,
        last_batchnorm: bool = False,
        activation: type[nn.Module] = nn.ReLU,
    ):
        if num_layers < 1:
            raise ValueError("num_layers must be >= 1")
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(d, hidden_dim, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(activation())
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim, bias=not last_batchnorm))
        if last_batchnorm:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        super().__init__(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x):
        shape = x.shape
        if x.dim() > 2:
            x = x.reshape(-1, shape[-1])
        y = super().forward(x)
        return y.reshape(*shape[:-1], y.shape[-1]) if len(shape) > 2 else y
