"""Multinomial logistic regression solved to convergence: the z-scored probe's deterministic solver
(`eval.standardized_solver: lbfgs`).

The z-scored probe minimises a strictly convex objective (softmax regression with L2), so it has one answer per
set of features. Minibatch SGD for a fixed number of epochs stops somewhere near it, at a point that moves with the
probe's seed (0.4-2.2 points on one MSR Action3D checkpoint, docs/learning.md 2s). Full-batch L-BFGS in float64
reaches the optimum itself, as the transfer probes of CLIP and SimCLR (scikit-learn's L-BFGS) do.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cpm.errors import CPMError


def fit_logistic(feats: torch.Tensor, labels: torch.Tensor, num_classes: int, l2: float,
                 max_iter: int = 1000, tol: float = 1e-7) -> nn.Linear:
    """The linear layer minimising mean CE(W x + b, y) + l2 / 2 (|W|^2 + |b|^2) over `feats` (N, D), `labels` (N,).

    This is the objective `train_linear`'s SGD descends with weight decay `l2` (torch decays the bias too), solved
    from zero by full-batch L-BFGS (strong Wolfe line search) in float64 on the CPU until the largest gradient entry
    is below `tol`: no seed, batch order or device changes the result. Returned in float32 on `feats`' device.
    """
    if not l2 > 0:
        raise CPMError(f"config key 'eval.standardized_weight_decay': the lbfgs probe needs an L2 > 0 (without it "
                       f"separable classes have no optimum), got {l2}")
    if feats.ndim != 2 or labels.shape != (feats.shape[0],):
        raise CPMError(f"fit_logistic: expected features (N, D) and labels (N,), got {tuple(feats.shape)} "
                       f"and {tuple(labels.shape)}")
    x = feats.detach().to("cpu", torch.float64)
    y = labels.detach().to("cpu", torch.long)
    w = torch.zeros(num_classes, x.shape[1] + 1, dtype=torch.float64, requires_grad=True)  # bias = last column
    xb = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=0.0,
                            history_size=20, line_search_fn="strong_wolfe")

    def objective():
        opt.zero_grad()
        loss = F.cross_entropy(xb @ w.T, y) + 0.5 * l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(objective)
    objective()  # the gradient at the final point (the line search may have evaluated elsewhere last)
    worst = w.grad.abs().max().item()
    if not worst <= tol:  # a usable probe still, but not the optimum the key promises: say so
        print(f"note: the lbfgs probe stopped after {max_iter} iterations with a largest gradient entry of "
              f"{worst:.1e} (tolerance {tol:.0e}); its result may move slightly with the device")
    fc = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        fc.weight.copy_(w[:, :-1].float())
        fc.bias.copy_(w[:, -1].float())
    return fc.to(feats.device)
