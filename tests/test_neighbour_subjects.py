"""scripts/experiments/neighbour_subjects.py: nearest-neighbour shares on a hand-computed case, and the real
MSR Action3D training clips (skipped without ../shared/data)."""
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "experiments"))
ns = pytest.importorskip("neighbour_subjects")
MSR = REPO.parent / "shared" / "data" / "msr_action3d"


def test_neighbour_shares_and_chance_by_hand():
    # points on a line at 0, 1, 10, 12: nearest of 0 is 1, of 1 is 0, of 10 is 12, of 12 is 10
    x = torch.tensor([[0.0], [1.0], [10.0], [12.0]])
    performer = torch.tensor([0, 0, 1, 1])  # every nearest neighbour is the same performer
    label = torch.tensor([0, 1, 0, 0])  # only 10 <-> 12 share a label
    shares = ns.neighbour_shares(torch.cdist(x, x), {"performer": performer, "label": label}, k=1)
    assert shares == {"performer": 1.0, "label": 0.5}
    # k=2: 0 -> {1, 10}, 1 -> {0, 10}, 10 -> {12, 1}, 12 -> {10, 1}; same performer 1 of 2 each
    assert ns.neighbour_shares(torch.cdist(x, x), {"performer": performer}, k=2) == {"performer": 0.5}
    assert ns.chance(performer) == pytest.approx(4 / 12)  # 2 x 1 same-group ordered pairs of 4 x 3
    assert ns.chance(torch.tensor([0, 0, 0, 1])) == pytest.approx(6 / 12)


@pytest.mark.skipif(not (MSR / "skeleton3D").is_dir(), reason=f"real MSR Action3D data not found at {MSR}")
def test_msr_training_clips(capsys):
    cfg = str(REPO / "configs" / "msr_action3d_val.yaml")
    assert ns.main(["--config", cfg, "--set", f"data.root={MSR}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("173 training clips, 3 performers") and "chance 0.330" in out[0]
    rows = {line.split("performer")[0].strip(): line.split() for line in out[1:]}
    assert len(rows) == 3
    raw = float(rows["input (centred clips)"][-3])
    assert raw > 0.5  # measured 0.664: a clip's neighbours are mostly its own performer's clips (chance 0.33)
    assert ns.main(["--config", cfg, "--set", f"data.root={MSR}", "--subject-regex", r"P(\d+)"]) == 2
    assert "does not match clip name" in capsys.readouterr().err
    for bad, msg in ((["--subject-regex", "s(\\d+"], "not a regular expression"), (["--k", "173"], "1 <= k < 173"),
                     (["--checkpoint", "nope.pt"], "nope.pt")):
        assert ns.main(["--config", cfg, "--set", f"data.root={MSR}", *bad]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_clips_without_names_refused(capsys):
    cfg = str(REPO / "configs" / "demo.yaml")
    assert ns.main(["--config", cfg, "--set", "data.synthetic.num_train=40", "data.synthetic.num_test=20"]) == 2
    assert "no performer ids" in capsys.readouterr().err
