"""CPM losses (Eq. 1-8) against hand-computed values."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cpm.errors import CPMError
from cpm.losses import cpm_loss, mine_positives

# a 4-entry queue of unit vectors in 2-D and a batch of 2
QUEUE = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
P = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalized: (1, 0), (0, 1)
Z = torch.tensor([[0.0, 5.0], [1.0, 1.0]])  # normalized: (0, 1), (1, 1)/sqrt(2)


def _softmax(x):
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / e.sum()


def test_eq4_kl_matches_hand_computation():
    tau, tau_t = 1.0, 0.5
    # row 0: p.a = [1, 0, -1, 0], z.a = [0, 1, 0, -1]
    d0 = _softmax([1 / tau, 0, -1 / tau, 0])
    t0 = _softmax([0, 1 / tau_t, 0, -1 / tau_t])
    # row 1: p.a = [0, 1, 0, -1], z.a = [s, s, -s, -s] with s = 1/sqrt(2)
    s = 1 / math.sqrt(2)
    d1 = _softmax([0, 1 / tau, 0, -1 / tau])
    t1 = _softmax([s / tau_t, s / tau_t, -s / tau_t, -s / tau_t])
    expected = 0.5 * (np.sum(t0 * np.log(t0 / d0)) + np.sum(t1 * np.log(t1 / d1)))
    got = cpm_loss(P, Z, QUEUE, tau=tau, tau_target=tau_t)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # a hand value for row 0 alone: t0 = [1, e^2, 1, e^-2]/Z_t, d0 = [e, 1, 1/e, 1]/Z_d
    zt, zd = 2 + math.exp(2) + math.exp(-2), math.e + 2 + 1 / math.e
    row0 = sum(ti / zt * (math.log(ti / zt) - math.log(di / zd))
               for ti, di in zip([1, math.exp(2), 1, math.exp(-2)], [math.e, 1, 1 / math.e, 1]))
    assert cpm_loss(P[:1], Z[:1], QUEUE, tau=tau, tau_target=tau_t).item() == pytest.approx(row0, rel=1e-5)


def test_eq8_positive_enhanced_as_written():
    tau, tau_t = 1.0, 0.5
    z = torch.tensor([[0.2, 1.0], [1.0, 1.0]])  # no ties among the target similarities
    zn = z.double().numpy() / np.linalg.norm(z.double().numpy(), axis=1, keepdims=True)
    pn = np.array([[1.0, 0.0], [0.0, 1.0]])
    total = 0.0
    for p_sims, z_sims in zip(pn @ QUEUE.double().numpy().T, zn @ QUEUE.double().numpy().T):
        denom = np.exp(z_sims / tau_t).sum()
        t = np.exp(z_sims / tau_t) / denom  # Eq. 2
        mined = np.argsort(-z_sims)[:2]  # Eq. 5-6, K = 2
        t[mined] = np.exp(1 / tau_t) / denom  # Eq. 7: denominator unchanged
        d = _softmax(p_sims / tau)  # Eq. 1
        total += -(t * np.log(d)).sum() + (t * np.log(t)).sum()  # Eq. 8: H(D'_NP, D) - H(D'_NP)
    got = cpm_loss(P, z, QUEUE, tau=tau, tau_target=tau_t, topk=2)
    assert got.item() == pytest.approx(total / 2, rel=1e-5)
    assert got.item() != pytest.approx(cpm_loss(P, z, QUEUE, tau=tau, tau_target=tau_t).item(), rel=1e-3)


def test_renormalized_reading_is_a_distribution():
    tau, tau_t = 1.0, 0.5
    z_logits = np.array([0, 1, 0, -1]) / tau_t
    z_logits[1] = 1 / tau_t  # mined entry (already at similarity 1 here), then softmax
    t = _softmax(z_logits)
    d = _softmax([1, 0, -1, 0])
    expected = float(np.sum(t * np.log(t / d)))
    got = cpm_loss(P[:1], Z[:1], QUEUE, tau=tau, tau_target=tau_t, topk=1, renormalize=True)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_topk0_equals_torch_kl_div():
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    q = F.normalize(torch.randn(32, 8, generator=g), dim=1)
    log_d = (F.normalize(p, dim=1) @ q.t() / 0.1).log_softmax(1)
    log_t = (F.normalize(z, dim=1) @ q.t() / 0.05).log_softmax(1)
    ref = F.kl_div(log_d, log_t, log_target=True, reduction="batchmean")
    assert cpm_loss(p, z, q).item() == pytest.approx(ref.item(), rel=1e-5)


def test_gradients_reach_student_only():
    p = torch.randn(4, 8, requires_grad=True)
    z = torch.randn(4, 8, requires_grad=True)
    q = F.normalize(torch.randn(16, 8), dim=1)
    for k in (0, 3):
        p.grad = None
        cpm_loss(p, z, q, topk=k).backward()
        assert p.grad is not None and p.grad.abs().sum() > 0
        assert z.grad is None


def test_no_overflow_with_sharp_target_in_float32_and_autocast():
    q = F.normalize(torch.randn(64, 16), dim=1)
    z = q[:4] * 3  # target identical to queue entries: logits up to 1/0.05 = 20, exp(20) ~ 4.9e8
    p = torch.randn(4, 16)
    for k in (0, 10):
        assert torch.isfinite(cpm_loss(p, z, q, topk=k))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cpm_loss(p.bfloat16(), z.bfloat16(), q, topk=10)
    assert out.dtype == torch.float32 and torch.isfinite(out)


def test_mine_positives_returns_topk_indices():
    idx = mine_positives(Z, QUEUE, 2)
    assert idx.dtype == torch.long and idx.shape == (2, 2)
    assert idx[0, 0].item() == 1  # z0 = (0, 1) is closest to a_2
    assert set(idx[1].tolist()) == {0, 1}


@pytest.mark.parametrize("kwargs, name", [
    (dict(tau=0.0), "tau"), (dict(tau_target=-1.0), "tau_target"), (dict(topk=5), "topk"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(CPMError, match=name):
        cpm_loss(P, Z, QUEUE, **kwargs)


def test_dimension_mismatch_is_reported():
    with pytest.raises(CPMError, match="queue"):
        cpm_loss(P, Z, torch.randn(4, 3))
    with pytest.raises(CPMError, match="p:"):
        cpm_loss(torch.randn(2, 3), Z, QUEUE)
    with pytest.raises(CPMError, match="k"):
        mine_positives(Z, QUEUE, 5)
