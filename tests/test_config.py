"""Config loading: inheritance, overrides, one-line errors."""
import pytest

from cpm.config import Config, config_from_dict, load_config
from cpm.errors import CPMError


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
