"""scripts/experiments/recipe_sweep.py --folds on the real MSR Action3D clips (skipped without ../shared/data):
each fold validates on its held-out training performer and the table names the folds."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MSR = REPO.parent / "shared" / "data" / "msr_action3d"
needs_msr = pytest.mark.skipif(not (MSR / "skeleton3D").is_dir(),
                               reason=f"real MSR Action3D data not found at {MSR} (../shared/data beside the repo)")


def _sweep():
    spec = importlib.util.spec_from_file_location("recipe_sweep", REPO / "scripts/experiments/recipe_sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_msr
@pytest.mark.parametrize("offset", [0, 100])
def test_folds_hold_out_one_training_performer(tmp_path, offset):
    n = torch.get_num_threads()
    try:
        rc = _sweep().main(["--config", str(REPO / "configs/msr_action3d.yaml"), "--folds", "9", "--out", str(tmp_path),
                            "--seed-offset", str(offset),
                            "--variant", "short:train.epochs=1,schedule.warmup_epochs=0", "--set", f"data.root={MSR}", "loss.pe_start_epoch=1",
                            "eval.linear_epochs=2", "model.hidden_channels=4", "model.hidden_dim=16"])
    finally:
        torch.set_num_threads(n)
    assert rc == 0
    res = json.loads((tmp_path / "sweep.json").read_text())
    assert set(res) == {"random_init/9", "short/9"}
    cfg = (tmp_path / "short" / "seed9" / "config.yaml").read_text()
    assert "validation_subjects:\n  - 9" in cfg and f"seed: {9 + offset}\n" in cfg  # --seed-offset: other seeds
    assert res["short/9"]["seed"] == 9 + offset
    assert "folds (held-out subject = seed) [9]" in (tmp_path / "sweep.md").read_text()


def test_seed_offset_without_folds_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        _sweep().parse_args(["--config", "c.yaml", "--seeds", "0", "--seed-offset", "100"])
    assert err.value.code == 2 and "--seed-offset needs --folds" in capsys.readouterr().err


def test_bad_override_is_one_line_error(tmp_path, capsys):
    rc = _sweep().main(["--config", str(REPO / "configs/demo.yaml"), "--seeds", "0", "--out", str(tmp_path),
                        "--variant", "bad:train.epochs=1", "--no-random-init"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: 2 config problems: ") and err.count("\n") == 1
    assert "'loss.pe_start_epoch': must be in [0, train.epochs=1], got 15" in err and "Traceback" not in err
    assert not (tmp_path / "sweep.json").exists()
