"""What the model's training path must do, checked against the public loss and hand formulas (issue 16):
each test fails for one plausible breakage (named in its docstring)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from cpm.losses import cpm_loss
from cpm.models import build_model
from cpm.models.cpm import self_mass


def _views(n=6, t=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, t, 25, 2, generator=g)
    return x, x + 0.1 * torch.randn(x.shape, generator=g)


def _model(cfg, seed=0, **model):
    cfg.model.dropout = 0.0  # deterministic heads: recomputing z below must give the model's own z
    for k, v in model.items():
        setattr(cfg.model, k, v)
    torch.manual_seed(seed)
    m = build_model(cfg)
    m.queue.queue.copy_(F.normalize(torch.randn(m.queue.queue.shape, generator=torch.Generator().manual_seed(1)),
                                    dim=1))
    return m


@pytest.mark.parametrize("topk", [0, 4])
@pytest.mark.parametrize("renormalize", [False, True])
def test_forward_loss_is_the_symmetric_public_loss(tiny_cfg, topk, renormalize):
    """Breaks if the views are paired wrongly (p1 -> z1), the mined positives are ignored in stage 2, or the
    model computes its own copy of Eq. 4/8 that drifts from `cpm_loss`."""
    tiny_cfg.loss.renormalize = renormalize
    m = _model(tiny_cfg)
    x1, x2 = _views()
    queue = m.queue.queue.clone()
    with torch.no_grad():
        z1, z2 = m.embed(x1), m.embed(x2)
        p1, p2 = m.predictor(z1), m.predictor(z2)
    lo = tiny_cfg.loss
    kw = dict(tau=lo.tau, tau_target=lo.tau_target, topk=topk, renormalize=renormalize)
    expected = 0.5 * (cpm_loss(p1, z2, queue, **kw) + cpm_loss(p2, z1, queue, **kw))
    got = m(x1, x2, topk=topk)["loss"]
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    if topk:  # stage 2 differs from stage 1 on the same inputs: the positives are used
        stage1 = 0.5 * (cpm_loss(p1, z2, queue, **{**kw, "topk": 0}) + cpm_loss(p2, z1, queue, **{**kw, "topk": 0}))
        assert abs(got.item() - stage1.item()) > 1e-3


def test_no_gradient_reaches_the_target(tiny_cfg):
    """Breaks if the stop-gradient on z' is removed: the encoder's gradient must equal the one obtained with the
    targets detached by hand, and differ from the one with gradients through both branches."""
    x1, x2 = _views()
    grads = []
    for mode in ("model", "detached", "through"):
        m = _model(tiny_cfg)
        queue = m.queue.queue.clone()
        if mode == "model":
            loss = m(x1, x2, topk=0)["loss"]
        else:
            z1, z2 = m.embed(x1), m.embed(x2)
            p1, p2 = m.predictor(z1), m.predictor(z2)
            if mode == "detached":
                loss = 0.5 * (cpm_loss(p1, z2.detach(), queue) + cpm_loss(p2, z1.detach(), queue))
            else:  # the same objective by hand, with gradients flowing into the targets too
                def kl(p, t):
                    log_t = (F.normalize(t, dim=1) @ queue.t() / 0.05).log_softmax(1)
                    log_d = (F.normalize(p, dim=1) @ queue.t() / 0.1).log_softmax(1)
                    return (log_t.exp() * (log_t - log_d)).sum(1).mean()
                loss = 0.5 * (kl(p1, z2) + kl(p2, z1))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in m.encoder.parameters() if p.grad is not None]))
    rel = [((g - grads[0]).norm() / grads[0].norm()).item() for g in grads[1:]]
    assert rel[0] < 1e-4 and rel[1] > 1e-2, rel


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_queue_receives_the_normalised_target_of_the_second_view(tiny_cfg, momentum):
    """Breaks if the student prediction, the first view, or unnormalised vectors are enqueued."""
    m = _model(tiny_cfg, target_momentum=momentum)
    x1, x2 = _views()
    ref = copy.deepcopy(m)
    m(x1, x2, topk=0, labels=torch.arange(6), ids=torch.arange(10, 16))
    if momentum:
        ref._update_target()  # the forward updates the EMA branch before computing the targets
    with torch.no_grad():
        t2 = ref.target(x2, ref.embed(x2))
    assert torch.allclose(m.queue.queue[:6], F.normalize(t2, dim=1), atol=1e-6)
    assert m.queue.ids[:6].tolist() == list(range(10, 16)) and m.queue.labels[:6].tolist() == list(range(6))


def test_ema_update_formula(tiny_cfg):
    """theta' <- m theta' + (1 - m) theta (BYOL/MoCo); breaks if the momentum is inverted or the copy is skipped, or
    if the forward drops the step's momentum that the trainer passes (model.target_momentum_schedule)."""
    m = _model(tiny_cfg, target_momentum=0.75)
    with torch.no_grad():
        for p in m.target_encoder.parameters():
            p.fill_(2.0)
        for p in m.encoder.parameters():
            p.fill_(6.0)
    m._update_target()
    assert all(torch.allclose(p, torch.full_like(p, 0.75 * 2.0 + 0.25 * 6.0)) for p in m.target_encoder.parameters())
    m.eval()
    m(*_views(), topk=0)  # no EMA step outside training
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in m.target_encoder.parameters())
    m.train()
    m(*_views(), topk=0, momentum=0.5)  # the trainer's scheduled momentum; None keeps the model's own
    assert all(torch.allclose(p, torch.full_like(p, 4.5)) for p in m.target_encoder.parameters())
    m(*_views(), topk=0)
    assert all(torch.allclose(p, torch.full_like(p, 0.75 * 4.5 + 0.25 * 6.0)) for p in m.target_encoder.parameters())


def test_ema_target_keeps_its_own_bn_statistics(tiny_cfg):
    """The EMA step touches parameters only (MoCo): the target's BN running statistics are those of its own
    forward passes, not the student's. Breaks if the student's buffers are copied over them. Training does not
    read running statistics, so copying them (the old behaviour) gives the same losses."""
    m = _model(tiny_cfg, target_momentum=0.9)
    old = copy.deepcopy(m)
    x1, x2 = _views()
    with torch.no_grad():  # weights that differ from the student's, as after some EMA steps
        for p in m.target_encoder.parameters():
            p.mul_(1.5)
    m.train()
    m(x1, x2, topk=0)
    bn = [b for b in m.encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)][0]
    tbn = [b for b in m.target_encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)][0]
    assert not torch.allclose(bn.running_mean, tbn.running_mean)  # each branch tracked its own activations
    with torch.no_grad():
        bn.running_mean.fill_(5.0)
    m._update_target()
    assert not torch.any(tbn.running_mean == 5.0)
    # the previous behaviour (buffers copied after each EMA step) trains to the same losses
    orig = type(old)._update_target

    def copying(self, momentum=None):
        orig(self, momentum)
        for tgt, src in ((self.target_encoder, self.encoder), (self.target_projector, self.projector)):
            for bt, bs in zip(tgt.buffers(), src.buffers()):
                bt.copy_(bs)

    m2 = _model(tiny_cfg, target_momentum=0.9)
    m2._update_target = copying.__get__(m2)
    m3 = _model(tiny_cfg, target_momentum=0.9)
    for step in range(3):
        a, b = _views(seed=step)
        assert m2(a, b, topk=0)["loss"].item() == m3(a, b, topk=0)["loss"].item()


def test_exclude_self_equals_the_loss_over_the_queue_without_own_copies(tiny_cfg):
    """`loss.exclude_self`: the loss over the queue with a row's own entries masked equals `cpm_loss` on the
    queue with those columns removed (here every row has its copies in the same slots)."""
    tiny_cfg.loss.exclude_self = True
    m = _model(tiny_cfg, symmetric=False)
    x1, x2 = _views(n=4)
    ids = torch.tensor([0, 1, 2, 3])
    m.queue.ids.fill_(9)
    m.queue.ids[[3, 7]] = 2  # sample 2 has two stale copies
    queue = m.queue.queue.clone()
    with torch.no_grad():
        z1, z2 = m.embed(x1), m.embed(x2)
        p1 = m.predictor(z1)
    got = m(x1, x2, topk=4, ids=ids)
    keep = [i for i in range(queue.shape[0]) if i not in (3, 7)]
    rows = [cpm_loss(p1[i:i + 1], z2[i:i + 1], queue[keep] if i == 2 else queue, topk=4) for i in range(4)]
    assert got["loss"].item() == pytest.approx(torch.stack(rows).mean().item(), rel=1e-5)
    assert got["self_mass"].item() == 0.0


def test_self_mass_hand_case():
    t_logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    own = torch.tensor([[True, False, False], [False, True, True]])
    assert self_mass(t_logits, own).item() == pytest.approx((0.5 + 0.9) / 2)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_center_subtracts_the_batch_mean_of_z_and_z_prime_in_training_only(tiny_cfg, momentum):
    """`model.center` (Sec. 3.1, "z and z' are mean-centered along the batch dimension"): breaks if the centring
    is skipped, applied to the target only, after the l2 normalisation, or also in eval mode."""
    m = _model(tiny_cfg, center=True, target_momentum=momentum)
    x1, x2 = _views()
    ref = copy.deepcopy(m)
    queue = m.queue.queue.clone()
    out = m(x1, x2, topk=0)
    if momentum:
        ref._update_target()
    with torch.no_grad():
        raw1, raw2 = ref.projector(ref.encoder(x1)), ref.projector(ref.encoder(x2))
        z1, z2 = raw1 - raw1.mean(0), raw2 - raw2.mean(0)
        p1, p2 = ref.predictor(z1), ref.predictor(z2)
        t1, t2 = ((ref.target_projector(ref.target_encoder(x)) for x in (x1, x2)) if momentum else (raw1, raw2))
        t1, t2 = t1 - t1.mean(0), t2 - t2.mean(0)
    lo = tiny_cfg.loss
    expected = 0.5 * (cpm_loss(p1, t2, queue, lo.tau, lo.tau_target) + cpm_loss(p2, t1, queue, lo.tau, lo.tau_target))
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(m.queue.queue[:6], F.normalize(t2, dim=1), atol=1e-6)
    assert m.embed(x1).mean(0).abs().max() < 1e-5  # training mode: zero batch mean per unit
    m.eval()
    with torch.no_grad():
        assert torch.allclose(m.embed(x1), m.projector(m.encoder(x1)))  # eval: the projection as it is


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_proj_bn_standardises_z_and_the_target_per_unit_and_leaves_the_default_alone(tiny_cfg, momentum):
    """`model.proj_bn` (SimSiam's output BN): breaks if the BN is missing from the student or the EMA target,
    carries affine parameters, or shifts the random init of the other layers (seeded runs would change)."""
    plain = _model(copy.deepcopy(tiny_cfg), target_momentum=momentum)
    m = _model(tiny_cfg, proj_bn=True, target_momentum=momentum)
    assert not any(k.startswith("projector.4.") for k in plain.state_dict())  # default: the paper's heads
    extra = {k for k in m.state_dict()} - {k for k in plain.state_dict()}
    assert extra and all(".4." in k and ("running" in k or "num_batches" in k) for k in extra)  # no weight/bias
    shared = plain.state_dict()
    assert all(torch.equal(v, shared[k]) for k, v in m.state_dict().items() if k in shared)
    x1, _ = _views()
    z = m.embed(x1)
    assert z.mean(0).abs().max() < 1e-5
    assert torch.allclose(z.var(0, unbiased=False), torch.ones(z.shape[1]), atol=1e-3)
    if momentum:
        with torch.no_grad():
            t = m.target(x1, z)
        assert torch.allclose(t.var(0, unbiased=False), torch.ones(t.shape[1]), atol=1e-3)
