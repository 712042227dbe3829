"""Projector g and predictor p (paper Sec. 3.1, 4.2): Linear -> BatchNorm -> ReLU -> Linear."""
from __future__ import annotations

from torch import nn


def mlp(in_dim: int, hidden_dim: int, out_dim: int, out_bn: bool = False) -> nn.Sequential:
    """Two-layer MLP; the first layer is followed by BatchNorm and ReLU, the second is plain (paper 4.2), or with
    `out_bn` followed by a BatchNorm without affine parameters (SimSiam's projector output)."""
    layers = [nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
              nn.Linear(hidden_dim, out_dim)]
    if out_bn:  # no parameters: the random init of every other layer is unchanged
        layers.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*layers)
