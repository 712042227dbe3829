"""Weight initialisation schemes (`model.init`)."""
from __future__ import annotations

import torch
from torch import nn

INIT_SCHEMES = ("pytorch", "lineage")


@torch.no_grad()
def init_weights(module: nn.Module, scheme: str = "pytorch") -> nn.Module:
    """Re-initialise `module` in place and return it.

    'pytorch' keeps the layer defaults (Kaiming-uniform conv/linear, BN weight 1). 'lineage' is the `weights_init`
    that ST-GCN, CrosSCLR and AimCLR apply to the whole model before training: every Conv1d/Conv2d/Linear weight
    ~ N(0, 0.02), every BatchNorm weight ~ N(1, 0.02), all their biases 0 (edge-importance masks stay 1).
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"model.init: expected {'|'.join(INIT_SCHEMES)}, got '{scheme}'")
    if scheme == "pytorch":
        return module
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            mean = 0.0
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            mean = 1.0
        else:
            continue
        m.weight.normal_(mean, 0.02)
        if m.bias is not None:
            m.bias.zero_()
    return module
