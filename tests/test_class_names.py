"""Shipped class-name lists, names from the config, and the per-class table."""
from dataclasses import replace

import numpy as np
import pytest

from cpm.config import DataConfig, load_config
from cpm.data.classes import class_names_of, read_class_names
from cpm.errors import CPMError
from cpm.eval.metrics import per_class_table


def test_shipped_lists_match_the_dataset_releases():
    ntu60, ntu120 = read_class_names("ntu60"), read_class_names("ntu120")
    assert len(ntu60) == 60 and ntu120[:60] == ntu60 and len(ntu120) == 120
    assert ntu60[0] == "drink water" and ntu60[58] == "walking towards each other"  # A1, A59
    assert ntu120[60] == "put on headphone" and ntu120[119].startswith("finger-guessing game")  # A61, A120
    pku = read_class_names("pku_mmd")
    assert len(pku) == 51 and pku[0] == "bow" and pku[50] == "writing" and pku[37] == "take out something from pocket"
    msr = read_class_names("msr_action3d")
    assert len(msr) == 20 and msr[0] == "high arm wave" and msr[19] == "pick up & throw"
    for names in (ntu120, pku, msr):
        assert len(set(names)) == len(names) and all(n == n.strip() and n for n in names)


def test_names_from_the_config(tmp_path):
    d = DataConfig(format="arrays")
    assert class_names_of(d, 4) is None
    assert class_names_of(DataConfig(format="synthetic"), 3) == ["wave", "punch", "front kick"]  # motions.py
    assert class_names_of(replace(d, class_names=["a", "b", "c"]), 2) == ["a", "b"]
    f = tmp_path / "classes.txt"
    f.write_text("wave\nkick\njump\n")
    assert class_names_of(replace(d, class_names_file=str(f)), 3) == ["wave", "kick", "jump"]
    assert class_names_of(replace(d, class_names_file="ntu60"), 2) == ["drink water", "eat meal/snack"]
    with pytest.raises(CPMError, match=r"data.class_names_file \(.*classes.txt\): 3 names for 4 classes"):
        class_names_of(replace(d, class_names_file=str(f)), 4)
    with pytest.raises(CPMError, match="neither a file nor a shipped list"):
        class_names_of(replace(d, class_names_file=str(tmp_path / "nope.txt")), 2)
    f.write_text("wave\n\njump\n")
    with pytest.raises(CPMError, match="line 2 is empty"):
        class_names_of(replace(d, class_names_file=str(f)), 3)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  class_names: [a, '']\n")
    with pytest.raises(CPMError, match="data.class_names"):
        load_config(cfg)
    cfg.write_text("data:\n  class_names: [a]\n  class_names_file: ntu60\n")
    with pytest.raises(CPMError, match="both set"):
        load_config(cfg)


def test_per_class_table_hand_case():
    # 3 classes: class 0 all right (2), class 1 one right one taken for class 2, class 2 absent from the test set
    cm = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 0]])
    table = per_class_table([100.0, 50.0, None], cm, ["wave", "kick", "jump"])
    rows = table.strip().splitlines()[2:]
    assert rows == ["| 0 | wave | 2 | 100.0 |  |", "| 1 | kick | 2 | 50.0 | jump (1) |", "| 2 | jump | 0 | - |  |"]
    assert per_class_table([50.0], np.array([[1]]) * 0 + 1).splitlines()[2] == "| 0 |  | 1 | 50.0 |  |"


def test_ensemble_keeps_the_members_class_names(tmp_path):
    import json

    from cpm.cli.tools import ensemble_main
    from cpm.eval.scores import save_scores

    labels = np.array([0, 1, 1])
    for k, stream in enumerate(("joint", "bone")):
        scores = np.eye(2)[[0, 1, 0]] * 0.6 + 0.2  # both members: clip 2 taken for class 0
        save_scores(tmp_path / stream, scores, labels)
        (tmp_path / stream / "results.json").write_text(json.dumps(
            {"protocol": "linear", "stream": stream, "metrics": {"top1": 66.7}, "class_names": ["sit", "stand"]}))
    assert ensemble_main([str(tmp_path / "joint"), str(tmp_path / "bone"), "--out", str(tmp_path / "ens")]) == 0
    assert json.loads((tmp_path / "ens" / "results.json").read_text())["class_names"] == ["sit", "stand"]
    rows = (tmp_path / "ens" / "per_class.md").read_text().strip().splitlines()[2:]
    assert rows == ["| 0 | sit | 1 | 100.0 |  |", "| 1 | stand | 2 | 50.0 | sit (1) |"]
