"""The student's weight average (`model.average_last`, `eval.encoder: average`): SWA's uniform mean over the active
steps, its own BN statistics, training untouched, checkpoint / resume / probe plumbing."""
import copy

import pytest
import torch
import torch.nn.functional as F

from cpm.config import Config, config_from_dict
from cpm.errors import CPMError
from cpm.eval.features import load_eval_encoder
from cpm.models import build_model
from cpm.runtime.checkpoint import load_checkpoint
from cpm.train import trainer
from cpm.train.schedule import average_start

from test_trainer import step_losses, tiny


def _views(n=6, t=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, t, 25, 2, generator=g)
    return x, x + 0.1 * torch.randn(x.shape, generator=g)


def _model(cfg, average_last=0.5, dropout=0.0, seed=0):
    cfg.model.average_last, cfg.model.dropout = average_last, dropout
    torch.manual_seed(seed)
    return build_model(cfg)


def _fill(module, value):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)


def test_average_start_hand_cases():
    assert average_start(240, 0.5) == 120
    assert average_start(20, 0.25) == 15
    assert average_start(20, 0.01) == 19  # a share > 0 averages at least the last epoch
    assert average_start(20, 1.0) == 0
    assert average_start(20, 0.0) == 20  # off: never


def test_average_is_the_uniform_mean_over_the_active_steps(tiny_cfg):
    """a_n = a_(n-1) + (theta - a_(n-1)) / n: student weights 4 (inactive), then 1, 2, 6 (active) -> 3.
    Breaks if the average is an EMA, skips a step, or starts from a stale copy."""
    m = _model(tiny_cfg)
    m.train()
    x = _views()[0]
    _fill(m.encoder, 4.0)
    m.update_average(x, False)
    assert all(torch.equal(p, torch.full_like(p, 4.0)) for p in m.average_encoder.parameters())
    assert m.average_count.item() == 0
    for value in (1.0, 2.0, 6.0):
        _fill(m.encoder, value)
        m.update_average(x, True)
    assert m.average_count.item() == 3
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in m.average_encoder.parameters())
    m(*_views(), topk=0)  # the forward pass leaves it alone
    assert m.average_count.item() == 3
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in m.average_encoder.parameters())


def test_inactive_average_follows_the_students_weights_and_statistics(tiny_cfg):
    m = _model(tiny_cfg)
    m.train()
    for seed in range(2):
        m(*_views(seed=seed), topk=0)
    m.update_average(_views(seed=5)[0], False)
    student = m.encoder.state_dict()
    for key, value in m.average_encoder.state_dict().items():
        assert torch.equal(value, student[key]), key


def test_average_bn_statistics_come_from_its_own_pass_without_dropout(tiny_cfg):
    """After the first active step the average's BN running statistics are those of one train-mode pass of the
    batch under its (averaged) weights with dropout off. Breaks if the student's statistics are copied, or if
    dropout (absent at evaluation) shapes them."""
    m = _model(tiny_cfg, dropout=0.5)
    m.train()
    x1, x2 = _views()
    ref = copy.deepcopy(m.average_encoder)
    with torch.no_grad():  # the first active step sets the average to the student's weights (n = 1)
        for a, s in zip(ref.parameters(), m.encoder.parameters()):
            a.copy_(s)
    ref.train()
    for mod in ref.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.eval()
    with torch.no_grad():
        ref(x1)
    m.update_average(x1, True)
    bns = [(b, r) for b, r in zip(m.average_encoder.modules(), ref.modules()) if isinstance(b, torch.nn.BatchNorm2d)]
    assert bns
    for b, r in bns:
        assert torch.allclose(b.running_mean, r.running_mean) and torch.allclose(b.running_var, r.running_var)
    sbn = [b for b in m.encoder.modules() if isinstance(b, torch.nn.BatchNorm2d)][-1]
    assert not torch.allclose(sbn.running_var, bns[-1][0].running_var)


def test_averaging_leaves_training_and_the_random_stream_unchanged(tiny_cfg):
    """Three SGD steps with dropout: the same losses, weights and global RNG state with and without the average.
    Breaks if its pass draws random numbers (dropout) or touches the student."""
    runs = []
    for average_last in (0.0, 0.5):
        m = _model(copy.deepcopy(tiny_cfg), average_last=average_last, dropout=0.5)
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
        torch.manual_seed(7)
        losses = []
        for step in range(3):
            x1, x2 = _views(seed=step)
            out = m(x1, x2, topk=0)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            m.update_average(x1, step > 0)
            losses.append(out["loss"].item())
        runs.append((losses, torch.get_rng_state(), F.normalize(m.encoder(_views()[0]), dim=1)))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])
    assert torch.equal(runs[0][2], runs[1][2])


def test_config_checks_for_the_average():
    def cfg(average_last, encoder):
        d = Config().to_dict()
        d["model"]["average_last"], d["eval"]["encoder"] = average_last, encoder
        return config_from_dict(d)

    with pytest.raises(CPMError, match="eval.encoder.*'average'.*model.average_last > 0"):
        cfg(0.0, "average")
    with pytest.raises(CPMError, match=r"model.average_last.*\[0, 1\].*1.5"):
        cfg(1.5, "student")
    assert cfg(0.5, "average").eval.encoder == "average"


def _avg_cfg(epochs=4) -> Config:
    cfg = tiny(epochs)
    cfg.model.average_last, cfg.eval.encoder = 0.5, "average"
    return cfg


def test_run_checkpoints_resumes_and_probes_the_average(tmp_path):
    """4 epochs of 3 steps, the last 2 averaged: 6 averaged steps in last.pt, the probe reads the average (not the
    student), a run stopped after epoch 3 and resumed ends with the same average, bit for bit."""
    torch.set_num_threads(1)
    full = trainer.pretrain(_avg_cfg(), tmp_path / "full")
    state = load_checkpoint(full.checkpoint)["model"]
    assert state["average_count"].item() == 6
    half = load_checkpoint(tmp_path / "full" / "epoch_0002.pt")["model"]  # before the average: the student
    assert half["average_count"].item() == 0
    assert torch.equal(half["average_encoder.data_bn.weight"], half["encoder.data_bn.weight"])
    enc = load_eval_encoder(_avg_cfg(), full.checkpoint)
    avg = {k[len("average_encoder."):]: v for k, v in state.items() if k.startswith("average_encoder.")}
    for key, value in enc.encoder.state_dict().items():
        assert torch.equal(value.cpu(), avg[key]), key
    assert not torch.equal(state["average_encoder.data_bn.weight"], state["encoder.data_bn.weight"])
    plain = trainer.pretrain(tiny(4), tmp_path / "plain")  # the trainer's student is untouched by the average
    assert step_losses(tmp_path / "plain") == step_losses(tmp_path / "full")
    plain_state = load_checkpoint(plain.checkpoint)["model"]
    assert all(torch.equal(v, state[k]) for k, v in plain_state.items() if k.startswith("encoder."))
    trainer.pretrain(_avg_cfg(), tmp_path / "split", stop_after=3)
    trainer.pretrain(_avg_cfg(), tmp_path / "split", resume="auto")
    resumed = load_checkpoint(tmp_path / "split" / "last.pt")["model"]
    for key in avg:
        assert torch.equal(resumed["average_encoder." + key], state["average_encoder." + key]), key


def test_a_run_without_the_average_names_the_key(tmp_path):
    run = trainer.pretrain(tiny(1), tmp_path)
    with pytest.raises(CPMError, match="has no average encoder.*model.average_last > 0"):
        load_eval_encoder(_avg_cfg(), run.checkpoint)
