"""BN statistics re-estimated before evaluation (`eval.precise_bn`): the plain average of the batches' statistics,
nothing else in the module touched, training bit for bit unchanged, the final checkpoint holding the estimate."""
import pytest
import torch
from torch import nn

from cpm.config import Config, config_from_dict
from cpm.errors import CPMError
from cpm.runtime.checkpoint import load_checkpoint
from cpm.train import trainer
from cpm.train.precise_bn import recompute_bn_stats
from cpm.runtime.metrics_file import read_metrics

from test_trainer import step_losses, tiny


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 2, bias=False), nn.Dropout(0.5), nn.BatchNorm1d(2))


def test_statistics_are_the_plain_average_of_the_batches():
    """Identity weights, two batches: x1 = [[0, 2], [2, 6]] (means 1, 4; unbiased vars 2, 8) and
    x2 = [[4, 0], [6, 0]] (means 5, 0; vars 2, 0) -> running mean (3, 2), running var (2, 4), exactly, whatever
    the statistics were before and whatever the momentum. Breaks with an EMA (momentum 0.1 would give other
    numbers), with dropout on (it would scale the inputs) or if old statistics leak in."""
    net = _net()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[2].running_mean.fill_(100.0), net[2].running_var.fill_(100.0)
    net.train()
    seen = recompute_bn_stats(net, [torch.tensor([[0.0, 2.0], [2.0, 6.0]]), torch.tensor([[4.0, 0.0], [6.0, 0.0]])])
    assert seen == 2
    assert torch.allclose(net[2].running_mean, torch.tensor([3.0, 2.0]))
    assert torch.allclose(net[2].running_var, torch.tensor([2.0, 4.0]))
    assert net[2].momentum == 0.1 and net.training and all(m.training for m in net)  # modes and momentum restored


def test_no_batches_keeps_the_statistics_and_eval_mode_stays():
    net = _net().eval()
    with torch.no_grad():
        net[2].running_mean.fill_(7.0)
    assert recompute_bn_stats(net, []) == 0
    assert torch.equal(net[2].running_mean, torch.full((2,), 7.0)) and int(net[2].num_batches_tracked) == 0
    assert not any(m.training for m in net)


def test_training_is_unchanged_and_the_last_checkpoint_holds_the_estimate(tmp_path):
    """3 epochs of 3 steps with the kNN every 2 epochs: the same step losses and weights with and without
    eval.precise_bn, the global RNG untouched; last.pt's BN statistics differ from the EMA ones; the kNN is read
    after the estimate (epochs 2 and 3): its features differ from those of the same weights under the EMA."""
    runs, feats = {}, {0: [], 4: []}
    for n in (0, 4):
        cfg = tiny()
        cfg.eval.knn_every, cfg.eval.precise_bn = 2, n

        def knn(ftr, *_, **__):
            feats[n].append(ftr.clone())
            return 50.0

        out = tmp_path / f"pbn{n}"
        trainer.pretrain(cfg, out, knn=knn)
        runs[n] = (step_losses(out), load_checkpoint(out / "last.pt")["model"], torch.get_rng_state())
    assert len(feats[0]) == len(feats[4]) == 2
    assert not any(torch.allclose(a, b) for a, b in zip(feats[0], feats[4]))
    assert runs[0][0] == runs[4][0] and len(runs[0][0]) == 9
    assert torch.equal(runs[0][2], runs[4][2])
    a, b = runs[0][1], runs[4][1]
    for key, value in a.items():
        if "running_" in key or "num_batches_tracked" in key:
            continue
        assert torch.equal(value, b[key]), key
    changed = [k for k in a if k.startswith("encoder.") and k.endswith("running_mean") and not torch.equal(a[k], b[k])]
    assert changed  # the student's statistics were re-estimated ...
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("target_encoder.") and "running" in k)  # ... only
    knn = [r["epoch"] for r in read_metrics(tmp_path / "pbn4" / "metrics.jsonl", "epoch") if "knn_top1" in r]
    assert knn == [1, 2]


def test_config_check_names_the_key():
    d = Config().to_dict()
    d["eval"]["precise_bn"] = -1
    with pytest.raises(CPMError, match="eval.precise_bn.*>= 0.*-1"):
        config_from_dict(d)
