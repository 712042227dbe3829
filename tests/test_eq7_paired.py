"""scripts/experiments/eq7_paired.py: the paired table from hand-made run folders (the runs themselves are the
public scripts, tested elsewhere), and its one-line refusal of a config without a stage-1 checkpoint."""
import json
import sys
from pathlib import Path

import pytest

from cpm.train.logger import RunLogger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "experiments"))
eq7 = pytest.importorskip("eq7_paired")


def _run(folder: Path, linear: float, knn: float, mining: list) -> None:
    for key, top1 in (("linear", linear), ("knn", knn)):
        (folder / key).mkdir(parents=True)
        (folder / key / "results.json").write_text(json.dumps({"protocol": key, "metrics": {"top1": top1}}))
    log = RunLogger(folder, tensorboard=False)
    for e, p in enumerate(mining):
        log.log("epoch", e, e + 1, {"mining_precision": p})
    log.close()


def test_summary_pairs_the_readings_per_seed(tmp_path):
    _run(tmp_path / "seed0" / "written", 40.0, 30.0, [0.2, 0.25])
    _run(tmp_path / "seed0" / "renormalized", 44.0, 31.0, [0.2, 0.35])
    _run(tmp_path / "seed1" / "written", 50.0, 20.0, [0.1, 0.15])
    _run(tmp_path / "seed1" / "renormalized", 52.0, 20.0, [0.1, 0.45])
    text = eq7.summarize(tmp_path, [0, 1], "header")
    # written: linear 45 +- 7.07 (sample std), kNN 25 +- 7.07, mining (25, 15) % -> 20 +- 7.07
    assert "| written | 45.0 ± 7.1 | 25.0 ± 7.1 | 20.0 ± 7.1 |" in text
    # paired differences: linear (4, 2) -> +3 +- 1.41; kNN (1, 0) -> +0.5 +- 0.71; mining (10, 30) -> +20 +- 14.1
    assert "| renormalised − written (paired) | +3.0 ± 1.4 | +0.5 ± 0.7 | +20.0 ± 14.1 |" in text
    assert json.loads((tmp_path / "summary.json").read_text())["paired"]["linear"] == [4.0, 2.0]
    assert (tmp_path / "summary.md").read_text() == text


def test_refuses_a_stage_2_start_without_a_kept_checkpoint(shared_data, tmp_path, capsys):
    code = eq7.main(["--data", str(shared_data / "msr_action3d"), "--out", str(tmp_path),
                     "--set", "train.save_every=7"])
    assert code == 2 and "train.save_every=7 must divide it" in capsys.readouterr().err
