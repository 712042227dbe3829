"""LARS: one hand-computed step, momentum, the excluded group, and the param-group split."""
import math

import pytest
import torch
from torch import nn

from cpm.errors import CPMError
from cpm.train.lars import LARS, param_groups


def test_one_hand_computed_step():
    w = nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    opt = LARS([w], lr=1.0, momentum=0.9, weight_decay=0.1, eta=0.001)
    w.grad = torch.tensor([[1.0, 0.0]])
    opt.step()
    # d = g + 0.1 w = [1.3, 0.4]; ||d|| = sqrt(1.85); ratio = 0.001 * 5 / sqrt(1.85)
    ratio = 0.005 / math.sqrt(1.85)
    expected = [3.0 - 1.3 * ratio, 4.0 - 0.4 * ratio]
    assert w.detach().tolist()[0] == pytest.approx(expected, rel=1e-6)
    assert expected[0] == pytest.approx(2.9952211, abs=1e-7)

    # second step: the momentum buffer carries 0.9 x the first scaled update
    mu1 = torch.tensor([1.3, 0.4]) * ratio
    w1 = torch.tensor(expected)
    w.grad = torch.tensor([[1.0, 0.0]])
    opt.step()
    d2 = torch.tensor([1.0, 0.0]) + 0.1 * w1
    mu2 = 0.9 * mu1 + d2 * (0.001 * w1.norm() / d2.norm())
    assert torch.allclose(w.detach()[0], w1 - mu2, atol=1e-7)


def test_excluded_group_is_plain_sgd_without_decay():
    b = nn.Parameter(torch.tensor([1.0]))
    opt = LARS([dict(params=[b], lars=False, weight_decay=0.0)], lr=0.5, momentum=0.9, weight_decay=0.1)
    b.grad = torch.tensor([0.4])
    opt.step()
    assert b.item() == pytest.approx(1.0 - 0.5 * 0.4)


def test_zero_weight_uses_unit_ratio():
    w = nn.Parameter(torch.zeros(2, 2))
    opt = LARS([w], lr=1.0, momentum=0.0, weight_decay=0.0)
    w.grad = torch.ones(2, 2)
    opt.step()
    assert torch.allclose(w.detach(), -torch.ones(2, 2))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones(3, 5, 5))])


def test_param_groups_split():
    m = _Tiny()
    lars, plain = param_groups(m, weight_decay=1e-4)
    ids = lambda g: {id(p) for p in g["params"]}
    assert ids(lars) == {id(m.fc.weight), id(m.edge_importance[0])}
    assert ids(plain) == {id(m.fc.bias), id(m.bn.weight), id(m.bn.bias)}
    assert lars["weight_decay"] == 1e-4 and lars["lars"] and plain["weight_decay"] == 0.0 and not plain["lars"]
    lars2, plain2 = param_groups(m, 1e-4, exclude_edge_importance=True)
    assert id(m.edge_importance[0]) in ids(plain2) and ids(lars2) == {id(m.fc.weight)}


def test_negative_hyperparameter_rejected():
    with pytest.raises(CPMError, match="eta"):
        LARS([nn.Parameter(torch.ones(1))], eta=-1.0)
