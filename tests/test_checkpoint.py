"""Checkpoints: atomic write, RNG round trip, weights_only loading, corrupt/mismatched files -> CPMError."""
import random

import numpy as np
import pytest
import torch
from torch import nn

from cpm.errors import CPMError
from cpm.runtime import checkpoint as ck


def _draw():
    return (random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(3).tolist())


def _state(**extra):
    return {"model": nn.Linear(2, 3).state_dict(), "epoch": 1, "step": 7, "config": {"name": "x", "lr": 0.5},
            "rng": ck.capture_rng(), **extra}


def test_rng_round_trip_through_file(tmp_path):
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    path = ck.save_checkpoint(_state(), tmp_path / "a.pt")
    first = _draw()
    ck.restore_rng(ck.load_checkpoint(path)["rng"])
    assert _draw() == first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rng_round_trip_loaded_onto_the_gpu(tmp_path):
    # the trainer resumes with map_location=<its device>: the RNG tensors then arrive on the GPU
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    path = ck.save_checkpoint(_state(), tmp_path / "a.pt")
    first = _draw()
    state = ck.load_checkpoint(path, map_location="cuda")
    assert state["rng"]["numpy"]["keys"].is_cuda
    ck.restore_rng(state["rng"])
    assert _draw() == first


def test_plain_data_loads_with_weights_only(tmp_path):
    path = ck.save_checkpoint(_state(optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1,
                                                               momentum=0.9).state_dict()), tmp_path / "b.pt")
    state = torch.load(path, weights_only=True)
    assert state["step"] == 7 and state["config"]["lr"] == 0.5


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = ck.save_checkpoint(_state(), tmp_path / "last.pt")
    before = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", broken_save)
    with pytest.raises(OSError):
        ck.save_checkpoint(_state(epoch=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_truncated_file_is_one_line_error(tmp_path):
    path = ck.save_checkpoint(_state(), tmp_path / "c.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CPMError, match=r"c\.pt.*cannot be read") as err:
        ck.load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_pickled_object_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": nn.Linear(2, 2), "epoch": 0, "step": 0, "config": {}}, path)  # a module, not data
    with pytest.raises(CPMError, match="evil.pt"):
        ck.load_checkpoint(path)


def test_missing_file_and_missing_entries(tmp_path):
    with pytest.raises(CPMError, match="not found"):
        ck.load_checkpoint(tmp_path / "nope.pt")
    torch.save({"model": {}}, tmp_path / "d.pt")
    with pytest.raises(CPMError, match=r"missing entries \['epoch', 'step', 'config'\]"):
        ck.load_checkpoint(tmp_path / "d.pt")


def test_other_architecture_lists_keys():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    other = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3)).state_dict()
    with pytest.raises(CPMError) as err:
        ck.load_model_state(model, other, "x.pt")
    msg = str(err.value)
    assert "x.pt" in msg and "missing keys: 1.weight" in msg and "unexpected keys: 2.weight" in msg
    assert "0.weight (4, 2) vs (3, 2)" in msg
    good = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    ck.load_model_state(model, good.state_dict(), "y.pt")
    assert torch.equal(model[0].weight, good[0].weight)


def test_unwrap_compiled_and_ddp_like():
    inner = nn.Linear(1, 1)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.module = inner

    assert ck.unwrap(Wrap()) is inner


def test_nan_weights_are_reported_as_nan_weights():
    model = nn.Linear(2, 3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["bias"][1] = float("nan")
    with pytest.raises(CPMError, match=r"^checkpoint run/last.pt: NaN/inf weights in 1 of 2 tensors \(e.g. bias\); "
                                       r"the run that wrote it diverged"):
        ck.load_model_state(model, state, "run/last.pt")
    state["bias"][1] = 0.0
    ck.load_model_state(model, state, "run/last.pt")
    assert model.bias[1].item() == 0.0
