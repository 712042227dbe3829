"""Warmup + cosine schedule: values at step 0, end of warmup, middle of the decay and the end."""
import math

import pytest
import torch

from cpm.errors import CPMError
from cpm.train.schedule import set_lr, warmup_cosine

KW = dict(base_lr=0.5, final_lr=0.0005, warmup_steps=10, total_steps=40)


def test_key_values():
    assert warmup_cosine(0, **KW) == 0.0
    assert warmup_cosine(5, **KW) == pytest.approx(0.25)
    assert warmup_cosine(10, **KW) == pytest.approx(0.5)
    # half way through the 30 decay steps: cos(pi/2) = 0 -> mean of base and final
    assert warmup_cosine(25, **KW) == pytest.approx((0.5 + 0.0005) / 2)
    assert warmup_cosine(40, **KW) == pytest.approx(0.0005)
    assert warmup_cosine(100, **KW) == pytest.approx(0.0005)
    s = 31
    assert warmup_cosine(s, **KW) == pytest.approx(0.0005 + 0.4995 * 0.5 * (1 + math.cos(math.pi * 21 / 30)))


def test_monotone_up_then_down():
    lrs = [warmup_cosine(s, **KW) for s in range(41)]
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))
    assert all(a > b for a, b in zip(lrs[10:40], lrs[11:41]))


def test_no_warmup():
    assert warmup_cosine(0, base_lr=1.0, final_lr=0.0, warmup_steps=0, total_steps=4) == 1.0


def test_bad_arguments():
    with pytest.raises(CPMError, match="warmup_steps"):
        warmup_cosine(0, base_lr=1.0, final_lr=0.0, warmup_steps=5, total_steps=4)


def test_set_lr_writes_every_group():
    p, q = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([{"params": [p]}, {"params": [q]}], lr=1.0)
    set_lr(opt, 0.125)
    assert [g["lr"] for g in opt.param_groups] == [0.125, 0.125]
