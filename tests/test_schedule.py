"""Warmup + cosine schedule: values at step 0, end of warmup, middle of the decay and the end."""
import math

import pytest
import torch

from cpm.errors import CPMError
from cpm.train.schedule import set_lr, target_momentum, warmup_cosine

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


@pytest.mark.parametrize("name", ["lars", "sgd"])
def test_fixed_predictor_lr_keeps_the_predictor_at_the_peak(tiny_cfg, name):
    """optim.fix_predictor_lr (SimSiam): the predictor's groups stay at optim.lr through warmup and decay, every
    other parameter follows the schedule, and each trainable parameter sits in exactly one group."""
    from cpm.models import build_model
    from cpm.train.steps import build_optimizer

    tiny_cfg.optim.name, tiny_cfg.optim.lr, tiny_cfg.optim.fix_predictor_lr = name, 0.5, True
    model = build_model(tiny_cfg)
    opt = build_optimizer(model, tiny_cfg.optim)
    set_lr(opt, 0.01)
    pred = {id(p) for p in model.predictor.parameters()}
    seen = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(seen) == len(set(seen)) and pred <= set(seen)
    for g in opt.param_groups:
        ids = {id(p) for p in g["params"]}
        assert ids <= pred or not ids & pred  # no group mixes predictor and other parameters
        assert g["lr"] == (0.5 if ids & pred else 0.01)
    tiny_cfg.optim.fix_predictor_lr = False
    opt = build_optimizer(model, tiny_cfg.optim)
    set_lr(opt, 0.01)
    assert all(g["lr"] == 0.01 for g in opt.param_groups)


def test_target_momentum_constant_and_cosine():
    """BYOL's tau = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2: base at step 0, half-way to 1 at K / 2, 1 from K on."""
    assert [target_momentum(k, base=0.99, total_steps=40) for k in (0, 20, 40, 99)] == [0.99] * 4
    cos = [target_momentum(k, base=0.99, total_steps=40, schedule="cosine") for k in range(45)]
    assert cos[0] == pytest.approx(0.99) and cos[20] == pytest.approx(0.995) and cos[40] == cos[44] == 1.0
    assert cos[10] == pytest.approx(1 - 0.01 * (1 + math.cos(math.pi / 4)) / 2)
    assert all(a < b for a, b in zip(cos[:40], cos[1:41]))
    with pytest.raises(CPMError, match="constant|cosine"):
        target_momentum(0, base=0.99, total_steps=40, schedule="linear")
