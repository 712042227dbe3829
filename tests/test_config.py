"""Config loading: inheritance, overrides, one-line errors."""
from pathlib import Path

import pytest
import torch

from cpm.config import Config, config_from_dict, load_config
from cpm.errors import CPMError

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


def _write(path, text):
    path.write_text(text)
    return path


def test_defaults_follow_the_paper():
    cfg = Config()
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.optim.name, cfg.optim.lr, cfg.optim.final_lr) == \
        (400, 512, "lars", 0.5, 0.0005)
    assert (cfg.loss.tau, cfg.loss.tau_target, cfg.loss.queue_size, cfg.loss.topk, cfg.loss.pe_start_epoch) == \
        (0.1, 0.05, 65536, 100, 300)
    assert (cfg.model.proj_hidden, cfg.model.proj_dim, cfg.model.temporal_kernel) == (512, 128, 9)


def test_base_inheritance_and_overrides(tmp_path):
    _write(tmp_path / "base.yaml", "loss:\n  topk: 50\n  queue_size: 1024\ntrain:\n  epochs: 20\n")
    child = _write(tmp_path / "child.yaml", "base: base.yaml\nloss:\n  topk: 10\n")
    cfg = load_config(child, ["optim.lr=0.25", "train.epochs=30", "data.layout_edges=[[0, 1]]",
                              "loss.pe_start_epoch=15"])
    assert cfg.loss.topk == 10 and cfg.loss.queue_size == 1024
    assert cfg.optim.lr == 0.25 and isinstance(cfg.optim.lr, float) and cfg.train.epochs == 30
    assert cfg.data.layout_edges == [[0, 1]]


def test_round_trip_through_dict():
    cfg = Config()
    cfg.loss.topk = 7
    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("text, msg", [
    ("loss:\n  topkk: 5\n", "unknown config key 'loss.topkk'; did you mean 'topk'"),
    ("optimizer:\n  lr: 1\n", "unknown config key 'optimizer'; did you mean 'optim'"),
    ("train:\n  epochs: ten\n", "'train.epochs': expected int, got str"),
    ("loss:\n  tau: true\n", "'loss.tau': expected float, got bool"),
    ("loss:\n  topk: 500\n  queue_size: 100\n", "'loss.topk'"),
    ("loss:\n  pe_start_epoch: 500\n", "'loss.pe_start_epoch': must be in \\[0, train.epochs=400\\]"),
    ("data:\n  stream: velocity\n", "'data.stream'"),
    ("eval:\n  encoder: teacher\n", "'eval.encoder': expected student\\|target\\|average, got 'teacher'"),
    ("eval:\n  encoder: average\n", "'eval.encoder': 'average' reads the student's weight average, which needs model"),
    ("model:\n  average_last: -0.5\n", "'model.average_last': must be in \\[0, 1\\]"),
    ("eval:\n  encoder: target\n", "'eval.encoder': 'target' reads the EMA target branch, which needs model.target_m"),
    ("loss: [1, 2]\n", "section 'loss': expected a mapping"),
])
def test_bad_configs_fail_with_one_line(tmp_path, text, msg):
    with pytest.raises(CPMError, match=msg) as err:
        load_config(_write(tmp_path / "c.yaml", text))
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(CPMError, match=r"YAML syntax error at line 3"):
        load_config(_write(tmp_path / "c.yaml", "train:\n  epochs: 3\n  batch_size: 4: 5\n"))


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(CPMError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    good = _write(tmp_path / "c.yaml", "{}\n")
    with pytest.raises(CPMError, match="KEY=VALUE"):
        load_config(good, ["optim.lr"])
    with pytest.raises(CPMError, match="did you mean 'lr'"):
        load_config(good, ["optim.lrr=1"])


@pytest.mark.parametrize("override, msg", [
    ("train.epochs=-1", r"^config key 'train.epochs': must be >= 1, got -1$"),  # not pe_start_epoch's fault
    ("optim.final_lr=-0.001", r"'optim.final_lr': must be in \[0, optim.lr=0.5\]"),
    ("optim.final_lr=0.6", r"'optim.final_lr': must be in \[0, optim.lr=0.5\]"),
    ("logging.log_every=0", "'logging.log_every': must be >= 1"),
    ("data.num_workers=-1", "'data.num_workers': must be >= 0"),
    ("eval.knn_k=0", "'eval.knn_k': must be >= 1"),
    ("eval.standardized_lr=-0.1", r"'eval.standardized_lr': must be >= 0 \(0 = eval.linear_lr\), got -0.1"),
    ("eval.standardized_weight_decay=-1e-3", r"'eval.standardized_weight_decay': must be >= 0, got -0.001"),
    ("eval.standardized_solver=lbfgs", r"'eval.standardized_weight_decay': eval.standardized_solver 'lbfgs' needs an "
                                       r"L2 > 0 .* got 0.0$"),
    ("eval.standardized_solver=adam", r"'eval.standardized_solver'.*sgd.*lbfgs"),
    ("train.device=gpu", "'train.device': expected auto|cpu|cuda|cuda:N, got 'gpu'"),
    ("model.temporal_kernel=4", "'model.temporal_kernel': must be an odd number"),
    ("eval.linear_milestones=[0]", "'eval.linear_milestones': expected a list of epochs >= 1"),
    ("data.augment.scale=1.0", r"'data.augment.scale': must be in \[0, 1\) \(factors in \[1 - s, 1 \+ s\]\), got 1.0"),
    ("data.augment.scale=-0.1", r"'data.augment.scale': must be in \[0, 1\)"),
    ("data.augment.motion_scale=1.0", r"'data.augment.motion_scale': must be in \[0, 1\) \(factors in \[1 - s, 1 \+ s\]\), got 1.0"),
    ("data.augment.posture_jitter=-0.01", r"'data.augment.posture_jitter': must be >= 0 \(0 = off\), got -0.01"),
    ("data.validation_subjects=[2]", r"'data.validation_subjects': expected distinct MSR Action3D training subjects"),
    ("data.validation_subjects=[1,1]", r"'data.validation_subjects': expected distinct"),
    ("data.validation_subjects=[1,3,5,7,9]", r"\(not all five\), got \[1, 3, 5, 7, 9\]"),
    ("data.validation_subjects=[1]", r"'data.validation_subjects': \[1\] needs data.format=msr_action3d and "
                                     r"data.validation=true \(got format 'synthetic', validation False\)"),
])
def test_value_checks_name_the_key(override, msg):
    with pytest.raises(CPMError, match=msg) as err:
        load_config(DEMO, [override])
    assert "\n" not in str(err.value)


def test_cosine_momentum_schedule_needs_an_ema_target():
    with pytest.raises(CPMError, match=r"'model.target_momentum_schedule': 'cosine' raises the EMA target's momentum "
                                       r"to 1, which needs model.target_momentum > 0"):
        load_config(DEMO, ["model.target_momentum=0", "model.target_momentum_schedule=cosine"])
    with pytest.raises(CPMError, match=r"'model.target_momentum_schedule': expected constant\|cosine, got 'linear'"):
        load_config(DEMO, ["model.target_momentum_schedule=linear"])
    assert load_config(DEMO, ["model.target_momentum_schedule=cosine"]).model.target_momentum_schedule == "cosine"


def test_all_problems_are_reported_at_once():
    with pytest.raises(CPMError) as err:
        load_config(DEMO, ["train.epochs=-1", "eval.knn_k=0", "optim.lrr=1", "loss.tau=x"])
    text = str(err.value)
    assert text.startswith("2 config problems:")  # type problems first: ranges of defaults would mislead
    assert "'optim.lrr'" in text and "'loss.tau': expected float, got str 'x'" in text
    with pytest.raises(CPMError, match=r"^2 config problems: .*'train.epochs'.*'eval.knn_k'"):
        load_config(DEMO, ["train.epochs=-1", "eval.knn_k=0"])


def test_yaml_1_1_exponent_floats_are_floats(tmp_path):
    # PyYAML reads 1e-4 and 5E-3 as strings (YAML 1.1 wants a dot); a float key accepts what a person writes
    cfg = load_config(_write(tmp_path / "c.yaml", "optim:\n  weight_decay: 1e-4\n  final_lr: 5E-3\n"),
                      ["loss.tau=2e-1"])
    assert (cfg.optim.weight_decay, cfg.optim.final_lr, cfg.loss.tau) == (1e-4, 5e-3, 0.2)
    with pytest.raises(CPMError, match="'train.epochs': expected int, got str '1e3'"):
        load_config(_write(tmp_path / "d.yaml", "train:\n  epochs: 1e3\n"))


def test_yaml_1_1_off_names_the_option(tmp_path):
    # PyYAML reads a bare `off` as False: `amp: off` and `--set train.amp=off` mean the option "off"
    assert load_config(DEMO, ["train.amp=off"]).train.amp == "off"
    assert load_config(_write(tmp_path / "c.yaml", "train:\n  amp: off\n")).train.amp == "off"
    with pytest.raises(CPMError, match="'train.amp': expected str, got bool True"):  # no "on" option to name
        load_config(DEMO, ["train.amp=on"])


def test_device_must_exist_on_this_machine(monkeypatch):
    from cpm.runtime.device import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:7"):
        with pytest.raises(CPMError, match=f"^train.device '{name}': CUDA is not available on this machine"):
            pick_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(CPMError, match=r"^--device 'cuda:7': this machine has 2 CUDA device\(s\), cuda:0..cuda:1"):
        pick_device("cuda:7", key="--device")
    assert pick_device("cuda:1").index == 1
    assert pick_device("cpu").type == "cpu"
