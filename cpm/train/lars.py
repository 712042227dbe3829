"""LARS (You et al., 2017, "Large Batch Training of Convolutional Networks"), as used by BYOL / MoCo v3.

Per parameter tensor ``w`` with gradient ``g`` in a group with ``lars=True``::

    d  = g + wd * w
    d *= eta * ||w|| / ||d||        (trust ratio; 1 when either norm is 0)
    mu = momentum * mu + d
    w -= lr * mu

Groups with ``lars=False`` (biases and normalisation parameters, see :func:`param_groups`) skip both the
weight decay and the trust-ratio scaling and are plain SGD with momentum, as in BYOL and MoCo v3.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from cpm.errors import CPMError

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


class LARS(torch.optim.Optimizer):
    """SGD with momentum + layer-wise trust-ratio adaptation.

    Args:
        params: parameters or param groups; a group may set ``lars=False`` to skip decay and adaptation.
        lr: learning rate (the schedule overwrites it every iteration).
        momentum: heavy-ball momentum (0.9 in BYOL / MoCo v3 / SimCLR).
        weight_decay: L2 penalty added to the gradient before the trust ratio.
        eta: trust coefficient (0.001 in the LARS paper, BYOL and MoCo v3).
    """

    def __init__(self, params: Iterable, lr: float = 0.0, momentum: float = 0.9,
                 weight_decay: float = 0.0, eta: float = 0.001):
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay), ("eta", eta)):
            if value < 0:
                raise CPMError(f"LARS: {name}={value} must be >= 0")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if group["lars"]:
                    d = d.add(p, alpha=group["weight_decay"])
                    w_norm, d_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(d)
                    # torch.where keeps it on the device: no host sync per parameter.
                    ratio = torch.where((w_norm > 0) & (d_norm > 0),
                                        group["eta"] * w_norm / d_norm, torch.ones_like(w_norm))
                    d = d.mul(ratio)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(group["momentum"]).add_(d)
                p.add_(mu, alpha=-group["lr"])
        return loss


def is_excluded(module: nn.Module, name: str, param: nn.Parameter,
                exclude_edge_importance: bool = False, full_name: str = "") -> bool:
    """True for parameters kept out of weight decay and trust-ratio adaptation.

    Biases, all parameters of normalisation layers, and any tensor with ndim <= 1 (the MoCo v3 rule)
    are excluded. ST-GCN's learnable edge-importance masks ``(K, V, V)`` are weights of the graph
    convolution and, as in ST-GCN / CrosSCLR / AimCLR (weight decay on all parameters), stay included
    unless ``exclude_edge_importance`` is set.
    """
    if isinstance(module, _NORM_TYPES) or name == "bias" or param.ndim <= 1:
        return True
    return exclude_edge_importance and "edge_importance" in (full_name or name)


def param_groups(model: nn.Module, weight_decay: float,
                 exclude_edge_importance: bool = False, skip=()) -> list[dict]:
    """Split ``model``'s trainable parameters (but those in ``skip``) into a LARS group and an excluded (plain
    SGD) group."""
    decay, plain, seen = [], [], {id(p) for p in skip}
    for mod_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            excluded = is_excluded(module, name, p, exclude_edge_importance, f"{mod_name}.{name}")
            (plain if excluded else decay).append(p)
    return [dict(params=decay, weight_decay=weight_decay, lars=True),
            dict(params=plain, weight_decay=0.0, lars=False)]
