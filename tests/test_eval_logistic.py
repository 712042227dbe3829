"""The z-scored probe's L-BFGS solver (cpm/eval/logistic.py) against hand-computed optima."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from cpm.config.schema import EvalConfig
from cpm.errors import CPMError
from cpm.eval.logistic import fit_logistic


def _objective_grad(fc, x, y, l2):
    w = torch.cat([fc.weight, fc.bias[:, None]], 1).double().detach().requires_grad_()
    xb = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    (F.cross_entropy(xb @ w.T, y) + 0.5 * l2 * w.pow(2).sum()).backward()
    return w.grad


def test_two_symmetric_points_reach_the_closed_form_optimum():
    # x = -1 -> class 0, x = +1 -> class 1. By symmetry w1 = -w0 = a, b = 0; the objective is
    # log(1 + exp(-2a)) + l2 a^2, stationary where l2 a (1 + exp(2a)) = 1 (a ~ 0.5213 at l2 = 0.5).
    l2 = 0.5
    lo, hi = 0.0, 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if l2 * mid * (1 + torch.exp(torch.tensor(2 * mid, dtype=torch.float64))) < 1 else (lo, mid)
    fc = fit_logistic(torch.tensor([[-1.0], [1.0]]), torch.tensor([0, 1]), 2, l2)
    assert abs(lo - 0.5213) < 1e-3
    assert fc.weight[:, 0].tolist() == pytest.approx([-lo, lo], abs=1e-6)
    assert fc.bias.tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def test_optimum_is_stationary_and_ignores_sample_order():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(5).repeat(8)
    x = torch.randn(5, 7, generator=g)[y] + torch.randn(40, 7, generator=g)
    fc = fit_logistic(x, y, 5, 1e-3)
    assert _objective_grad(fc, x, y, 1e-3).abs().max() < 1e-5  # float32 rounding of the returned layer
    perm = torch.randperm(40, generator=g)
    fc2 = fit_logistic(x[perm], y[perm], 5, 1e-3)
    assert torch.allclose(fc.weight, fc2.weight, atol=1e-5) and torch.allclose(fc.bias, fc2.bias, atol=1e-5)
    strong = fit_logistic(x, y, 5, 1.0)  # the L2 is not ignored: a larger one shrinks the weights
    assert strong.weight.norm() < 0.5 * fc.weight.norm()


def test_needs_a_positive_l2_and_matching_shapes():
    with pytest.raises(CPMError, match="needs an L2 > 0"):
        fit_logistic(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), 2, 0.0)
    with pytest.raises(CPMError, match=r"expected features \(N, D\) and labels \(N,\)"):
        fit_logistic(torch.randn(4, 2), torch.tensor([0, 1, 0]), 2, 0.1)


def test_standardized_top1_uses_the_solver_and_no_seed(monkeypatch):
    import cpm.eval.linear as lin
    from cpm.eval.linear import class_scores, standardize, standardized_top1

    g = torch.Generator().manual_seed(1)
    ytr, yte = torch.arange(4).repeat(10), torch.arange(4).repeat(5)
    centers = torch.randn(4, 6, generator=g)
    ftr = 0.01 * (centers[ytr] + torch.randn(40, 6, generator=g))
    fte = 0.01 * (centers[yte] + torch.randn(20, 6, generator=g))
    ecfg = replace(EvalConfig(), standardized_solver="lbfgs", standardized_weight_decay=0.01)
    ztr, zte = standardize(ftr, fte)
    want = (class_scores(fit_logistic(ztr, ytr, 4, 0.01), zte).argmax(1) == yte).float().mean().item() * 100
    assert standardized_top1(ftr, ytr, fte, yte, 4, ecfg, seed=0) == pytest.approx(want)
    assert standardized_top1(ftr, ytr, fte, yte, 4, ecfg, seed=7) == pytest.approx(want)
    seen = []
    monkeypatch.setattr(lin, "fit_logistic", lambda *a: seen.append(a[3]) or fit_logistic(*a))
    monkeypatch.setattr(lin, "train_linear", lambda *a, **k: pytest.fail("lbfgs must not run the SGD probe"))
    standardized_top1(ftr, ytr, fte, yte, 4, ecfg)
    assert seen == [0.01]


def test_says_when_it_stops_before_the_optimum(capsys):
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(30, 4, generator=g), torch.arange(30) % 3
    fit_logistic(x, y, 3, 1e-3)
    assert capsys.readouterr().out == ""  # converged: silent
    fit_logistic(x, y, 3, 1e-3, max_iter=2)
    assert "lbfgs probe stopped after 2 iterations" in capsys.readouterr().out
