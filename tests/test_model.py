"""The siamese CPM model."""
import math

import torch

from cpm.models import build_model
from cpm.models.cpm import mining_precision


def _batch(n=6, t=16):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, t, 25, 2, generator=g)
    return x, x + 0.05 * torch.randn(x.shape, generator=g)


def test_forward_returns_loss_and_monitoring(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    x1, x2 = _batch()
    out = model(x1, x2, topk=0)
    assert set(out) == {"loss", "top1_sim", "emb_std", "mining_precision", "pe", "self_mass"}
    assert out["loss"].requires_grad and out["loss"].dim() == 0
    assert out["pe"].item() == 0.0 and math.isnan(out["mining_precision"].item())
    assert 0.0 < out["emb_std"].item() <= 1.0
    assert model(x1, x2, topk=4)["pe"].item() == 1.0


def test_queue_updated_after_loss_with_target_embeddings(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    before = model.queue.queue.clone()
    x1, x2 = _batch()
    out = model(x1, x2, topk=4, labels=torch.arange(6))
    out["loss"].backward()  # the in-place enqueue must not break backward
    assert int(model.queue.ptr) == 6
    assert not torch.equal(model.queue.queue[:6], before[:6]) and torch.equal(model.queue.queue[6:], before[6:])
    assert model.queue.labels[:6].tolist() == list(range(6))
    assert torch.allclose(model.queue.queue[:6].norm(dim=1), torch.ones(6), atol=1e-5)


def test_loss_unchanged_when_monitoring_labels_are_shuffled(tiny_cfg):
    x1, x2 = _batch()
    losses = []
    for labels in (torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 2, 1, 0, 0, 1]), None):
        torch.manual_seed(0)
        model = build_model(tiny_cfg)
        model.queue.labels.copy_(torch.randint(0, 3, (tiny_cfg.loss.queue_size,)))
        losses.append(model(x1, x2, topk=4, labels=labels)["loss"].item())
    assert losses[0] == losses[1] == losses[2]


def test_mining_precision_hand_case():
    qlab = torch.tensor([0, 1, 1, -1, 2])
    mined = torch.tensor([[1, 2, 3], [0, 4, 3]])  # sample 0 (label 1): 2 of 2 known hit; sample 1 (label 2): 1 of 2
    assert mining_precision(mined, qlab, torch.tensor([1, 2])).item() == 0.75
    assert math.isnan(mining_precision(torch.tensor([[3]]), qlab, torch.tensor([0])).item())


def test_asymmetric_and_ema_variants_train(tiny_cfg):
    x1, x2 = _batch()
    tiny_cfg.model.symmetric = False
    tiny_cfg.model.target_momentum = 0.9
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    before = [p.clone() for p in model.target_encoder.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(x1, x2, topk=2)["loss"].backward()
        opt.step()
    assert all(p.grad is None for p in model.target_encoder.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.target_encoder.parameters()))
