"""The pretraining loop on the embedded synthetic data (tiny shapes): exact resume, NaN stop, out-dir policy."""
import json
import math

import pytest
import torch

from cpm.config import Config
from cpm.errors import CPMError
from cpm.train import trainer
from cpm.runtime.checkpoint import load_checkpoint
from cpm.cli.pretrain import main as cli_main
from cpm.runtime.metrics_file import read_metrics


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny ops: a second intra-op thread only adds sync overhead (10x slower on a busy 2-core machine)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(epochs=3) -> Config:
    cfg = Config()
    d = cfg.data
    d.num_frames, d.num_workers = 16, 0
    d.synthetic.num_train, d.synthetic.num_test = 48, 24
    m = cfg.model
    m.hidden_channels, m.hidden_dim, m.proj_hidden, m.proj_dim, m.pred_hidden = 4, 16, 16, 8, 16
    cfg.loss.queue_size, cfg.loss.topk, cfg.loss.pe_start_epoch = 32, 4, 1  # epoch 2 on is stage 2
    cfg.optim.lr, cfg.optim.final_lr = 0.5, 0.005
    cfg.schedule.warmup_epochs = 1
    cfg.train.epochs, cfg.train.batch_size, cfg.train.save_every = epochs, 16, 2
    cfg.logging.log_every, cfg.logging.tensorboard, cfg.logging.progress = 1, False, False
    return cfg


def step_losses(out):
    return [r["loss"] for r in read_metrics(out / "metrics.jsonl", "step")]


def test_resume_gives_the_same_losses(tmp_path):
    full = trainer.pretrain(tiny(), tmp_path / "full")
    trainer.pretrain(tiny(), tmp_path / "split", stop_after=2)
    assert load_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 2
    part = trainer.pretrain(tiny(), tmp_path / "split", resume="auto")
    assert (full.epoch, full.step, part.epoch, part.step) == (3, 9, 3, 9)
    a, b = step_losses(tmp_path / "full"), step_losses(tmp_path / "split")
    assert len(a) == 9 and a == b  # bit-identical on CPU, stage 1 and stage 2 steps alike
    stages = [r["stage"] for r in read_metrics(tmp_path / "full" / "metrics.jsonl", "step")]
    assert stages == [1.0] * 3 + [2.0] * 6
    sa = load_checkpoint(tmp_path / "full" / "last.pt")
    sb = load_checkpoint(tmp_path / "split" / "last.pt")
    for k, v in sa["model"].items():  # weights, BN statistics and the queue with its pointer
        assert torch.equal(v, sb["model"][k]), k
    assert int(sa["model"]["queue.ptr"]) == 9 * 16 % 32
    assert sorted(p.name for p in (tmp_path / "full").glob("*.pt")) == ["epoch_0002.pt", "last.pt"]


def test_the_cosine_momentum_schedule_reaches_every_step(tmp_path, monkeypatch):
    """model.target_momentum_schedule=cosine: step k of K gets 1 - (1 - m)(1 + cos(pi k / K)) / 2 (BYOL); the
    constant schedule gives m every step."""
    seen = []

    def spy(*args, momentum=None, **kwargs):
        seen.append(momentum)
        return step(*args, momentum=momentum, **kwargs)

    step = trainer.train_step
    monkeypatch.setattr(trainer, "train_step", spy)
    cfg = tiny()
    cfg.model.target_momentum, cfg.model.target_momentum_schedule = 0.9, "cosine"
    trainer.pretrain(cfg, tmp_path / "cos")
    assert seen == pytest.approx([1 - 0.1 * (1 + math.cos(math.pi * k / 9)) / 2 for k in range(9)])
    seen.clear()
    cfg.model.target_momentum_schedule = "constant"
    trainer.pretrain(cfg, tmp_path / "const")
    assert seen == [0.9] * 9


def test_queue_records_the_sample_ids_of_the_sampler_order_and_epochs_log_feature_stats(tmp_path):
    """The ids the trainer hands the model are the DistributedSampler's order (batch i = order[i*B:(i+1)*B]):
    after one epoch of 3 batches of 16 the queue holds the 48 ids of that order (the self-copy monitor and
    loss.exclude_self rely on it)."""
    from torch.utils.data import DistributedSampler

    cfg = tiny(epochs=1)
    cfg.loss.queue_size = 64
    res = trainer.pretrain(cfg, tmp_path)
    state = load_checkpoint(res.checkpoint)["model"]
    order = list(DistributedSampler(range(48), num_replicas=1, rank=0, shuffle=True, seed=cfg.train.seed))
    assert state["queue.ids"][:48].tolist() == order and (state["queue.ids"][48:] == -1).all()
    epoch = read_metrics(tmp_path / "metrics.jsonl", "epoch")[-1]
    assert 0 < epoch["feat_spread"] < 2 and epoch["feat_rank"] >= 1
    steps = read_metrics(tmp_path / "metrics.jsonl", "step")
    assert all(0 <= r["self_mass"] <= 1 for r in steps)


def test_collapse_check_reads_the_features_before_the_output_bn():
    """model.output_bn rescales every feature dimension to unit variance, so a collapsed encoder's tiny
    differences between clips would look healthy after it: the spread is measured on the pooled features."""
    from cpm.data import build_dataset
    from cpm.diagnostics import feature_spread
    from cpm.models import build_model
    from cpm.runtime.device import FP32
    from cpm.train.monitor import FeatureProbe

    cfg = tiny()
    cfg.model.output_bn = True
    model = build_model(cfg).eval()
    bn = model.encoder.out_bn
    bn.running_mean.fill_(1.0)
    bn.running_var.fill_(1e-9)  # the statistics a collapsed run would have left
    torch.manual_seed(0)
    model.encoder.pooled = lambda x: 1.0 + 1e-6 * torch.randn(x.shape[0], cfg.model.hidden_dim)
    data = build_dataset(cfg.data, "train")
    got = FeatureProbe(cfg, data, torch.device("cpu"), FP32, clips=32)(model)["feat_spread"]
    assert got < 1e-4  # the pooled features barely differ: reported as collapsed
    x = torch.zeros(32, 3, 16, 25, 2)
    assert feature_spread(model.encoder(x)) > 0.5  # after the BN they would look spread out


def test_checkpoint_content_and_schedule(tmp_path):
    cfg = tiny(epochs=2)
    trainer.pretrain(cfg, tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "scaler", "epoch", "step", "rng", "config", "version"} <= set(state)
    assert state["config"] == cfg.to_dict() and state["scheduler"]["step"] == 6
    lrs = [r["lr"] for r in read_metrics(tmp_path / "metrics.jsonl", "step")]
    # 3 steps/epoch, warmup 1 epoch: 0, 1/3, 2/3 of 0.5, then cosine from 0.5 over 3 steps
    assert lrs[:4] == pytest.approx([0.0, 0.5 / 3, 1.0 / 3, 0.5])
    assert (tmp_path / "config.yaml").is_file()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    build = trainer.build_model
    calls = {"n": 0}

    def poisoned(cfg):
        model = build(cfg)
        forward = model.forward

        def fwd(*a, **k):
            out = forward(*a, **k)
            calls["n"] += 1
            if calls["n"] == 5:  # 2nd step of epoch 2
                out["loss"] = out["loss"] * float("nan")
            return out

        model.forward = fwd
        return model

    monkeypatch.setattr(trainer, "build_model", poisoned)
    with pytest.raises(CPMError, match=r"non-finite loss \(nan\) at epoch 2, step 5") as err:
        trainer.pretrain(tiny(), tmp_path)
    assert "last.pt" in str(err.value)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_out_dir_refusal_resume_and_force(tmp_path):
    trainer.pretrain(tiny(epochs=1), tmp_path)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(CPMError, match="already holds checkpoints.*--resume auto.*--force"):
        trainer.pretrain(tiny(epochs=1), tmp_path)
    assert (tmp_path / "last.pt").read_bytes() == before
    done = trainer.pretrain(tiny(epochs=1), tmp_path, resume="auto")  # nothing left to do
    assert done.epoch == 1 and (tmp_path / "last.pt").read_bytes() == before
    with pytest.raises(CPMError, match="checkpoint not found"):
        trainer.pretrain(tiny(epochs=1), tmp_path, resume=str(tmp_path / "missing.pt"))
    trainer.pretrain(tiny(epochs=1), tmp_path, force=True)
    assert len(step_losses(tmp_path)) == 3  # the old run's metrics were replaced, not appended to


def test_resume_from_other_architecture_is_refused(tmp_path):
    trainer.pretrain(tiny(epochs=1), tmp_path)
    other = tiny(epochs=2)
    other.model.hidden_channels = 8
    with pytest.raises(CPMError, match=r"does not match the model.*shape mismatch"):
        trainer.pretrain(other, tmp_path, resume="auto")


def test_bad_inputs(tmp_path):
    cfg = tiny()
    cfg.train.batch_size = 64  # > 48 training samples
    with pytest.raises(CPMError, match="larger than the training set"):
        trainer.pretrain(cfg, tmp_path)
    assert not (tmp_path / "last.pt").exists()


def test_cli_one_line_errors_and_paths(tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("base: " + str(tmp_path / "b.yaml") + "\n")
    (tmp_path / "b.yaml").write_text(json.dumps(tiny(epochs=1).to_dict()))  # JSON is YAML
    assert cli_main(["--config", str(cfg_file), "--set", "optim.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'lr'" in err and err.count("\n") == 1
    out_dir = tmp_path / "run"
    assert cli_main(["--config", str(cfg_file), "--out", str(out_dir), "--set", "logging.tensorboard=true"]) == 0
    printed = capsys.readouterr().out
    assert f"checkpoint: {out_dir / 'last.pt'}" in printed and str(out_dir / "tb") in printed
    assert any((out_dir / "tb").iterdir())
    assert cli_main(["--config", str(cfg_file), "--out", str(out_dir)]) == 2  # refuses to overwrite


def _digest(folder) -> dict:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_resume_auto_without_last_keeps_the_run(tmp_path):
    trainer.pretrain(tiny(epochs=2), tmp_path)  # keeps epoch_0002.pt (save_every 2) and last.pt
    (tmp_path / "last.pt").unlink()
    before = _digest(tmp_path)
    with pytest.raises(CPMError, match=r"--resume auto: .* has no last.pt but holds epoch_0002.pt, metrics.jsonl.*"
                                       r"--resume .*epoch_0002.pt.*--force"):
        trainer.pretrain(tiny(epochs=2), tmp_path, resume="auto")
    assert _digest(tmp_path) == before


def test_resume_into_another_runs_folder_is_refused(tmp_path):
    trainer.pretrain(tiny(epochs=1), tmp_path / "a")
    trainer.pretrain(tiny(epochs=1), tmp_path / "b")
    before = _digest(tmp_path / "b")
    with pytest.raises(CPMError, match=r"--out .*b: holds another run \(last.pt, metrics.jsonl\); resuming"):
        trainer.pretrain(tiny(epochs=2), tmp_path / "b", resume=str(tmp_path / "a" / "last.pt"))
    assert _digest(tmp_path / "b") == before
    trainer.pretrain(tiny(epochs=2), tmp_path / "b", resume=str(tmp_path / "a" / "last.pt"), force=True)
    assert [r["epoch"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", "epoch")] == [1]  # b's run replaced


def test_stale_checkpoint_temps_are_removed_at_start(tmp_path):
    trainer.pretrain(tiny(epochs=1), tmp_path)
    (tmp_path / ".last.pt.ab12_x9z.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "notes.tmp").write_text("not ours")
    trainer.pretrain(tiny(epochs=2), tmp_path, resume="auto")
    assert not (tmp_path / ".last.pt.ab12_x9z.tmp").exists() and (tmp_path / "notes.tmp").exists()


def test_resume_with_another_batch_size_keeps_the_schedule_position(tmp_path):
    trainer.pretrain(tiny(epochs=4), tmp_path, stop_after=2)  # batch 16: 3 steps per epoch
    cfg = tiny(epochs=4)
    cfg.train.batch_size = 8  # 6 steps per epoch: epoch 3 starts at schedule step 12 of 24, not at step 6
    trainer.pretrain(cfg, tmp_path, resume="auto")
    lrs = [r["lr"] for r in read_metrics(tmp_path / "metrics.jsonl", "step")][6:]
    # warmup 1 epoch (6 steps), cosine over the next 18: epoch 3 starts 6/18 = 1/3 into the cosine,
    # lr = 0.005 + 0.495 * (1 + cos(pi / 3)) / 2 = 0.37625 (the old step-based schedule restarted at the 0.5 peak)
    assert len(lrs) == 12 and lrs[0] == pytest.approx(0.37625) and all(a > b for a, b in zip(lrs, lrs[1:]))
