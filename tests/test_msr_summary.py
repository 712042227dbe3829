"""scripts/experiments/msr_summary.py: the MSR table from hand-made run folders (the runs themselves are the
public scripts, tested elsewhere), with the input clips' probes as a row of its own."""
import json
import sys
from pathlib import Path

import pytest

from cpm.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "experiments"))
msr = pytest.importorskip("msr_summary")


def _result(folder: Path, **metrics) -> None:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"metrics": metrics}))


def test_table_rows_gap_and_the_input_row(tmp_path):
    for s, (cpm, rnd) in enumerate(((50.0, 20.0), (60.0, 30.0))):
        d = tmp_path / f"seed{s}"
        _result(d / "cpm" / "linear", top1=cpm, top1_standardized=cpm + 2)
        _result(d / "cpm" / "knn", top1=cpm - 10)
        _result(d / "random_init" / "linear", top1=5.0, top1_standardized=rnd)
        _result(d / "random_init" / "knn", top1=rnd - 5)
    text = msr.summarize(tmp_path, [0, 1], Config(), "xsub", wall_s=120.0, command="cmd",
                         inputs={"knn": 47.25, "linear_std": 52.0})
    # CPM: linear (50, 60) -> 55 +- 7.07; kNN (40, 50) -> 45 +- 7.07; standardised (52, 62) -> 57 +- 7.07
    assert "| CPM (both stages) | 55.0 ± 7.1 | 45.0 ± 7.1 | 57.0 ± 7.1 | – | – |" in text
    assert "| The input clips (no encoder) | – | 47.2 | 52.0 | – | – |" in text
    # standardised gap: (52 - 20, 62 - 30) -> +32; kNN gap: (40 - 15, 50 - 25) -> +25
    assert "kNN +25.0" in text and "standardised linear +32.0" in text
    assert json.loads((tmp_path / "summary.json").read_text())["inputs"]["knn"] == 47.25


def test_the_input_row_is_absent_when_not_measured(tmp_path):
    text = msr.summarize(tmp_path, [0], Config(), "val", wall_s=1.0, command="cmd")
    assert "input clips" not in text
