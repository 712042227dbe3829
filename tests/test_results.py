"""results.json records, the score ensemble, and the paper-style markdown tables."""
import json
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from cpm.config import Config
from cpm.errors import CPMError
from cpm.eval.metrics import classification_report
from cpm.eval.records import config_value, git_commit, load_results, make_record, variant_of, write_results
from cpm.eval.scores import ensemble_scores, load_scores, save_scores
from cpm.eval.tables import PAPER, results_table, sweep_points


def _rec(protocol, top1, benchmark, stream="joint", variant="cpm", date="2024-01-01T00:00:00+00:00", **kw):
    return {"protocol": protocol, "metrics": {"top1": top1, "top5": 99.0}, "benchmark": benchmark,
            "stream": stream, "variant": variant, "date": date, **kw}


def test_record_roundtrip(tmp_path):
    cfg = Config()
    cfg.eval.benchmark = "ntu60-xsub"
    rec = make_record("linear", {"top1": 80.5, "per_class": [None, 50.0]}, cfg, "runs/x/last.pt",
                      stream="joint", variant="cpm", scores=np.arange(3))
    path = write_results(tmp_path / "out", rec)
    back = json.loads(path.read_text())
    assert back["protocol"] == "linear" and back["metrics"]["top1"] == 80.5
    assert back["benchmark"] == "ntu60-xsub" and back["checkpoint"] == "runs/x/last.pt"
    assert back["config"]["eval"]["benchmark"] == "ntu60-xsub" and back["scores"] == [0, 1, 2]
    assert datetime.fromisoformat(back["date"]).tzinfo is not None
    assert back["git_commit"] == git_commit()
    with pytest.raises(ValueError):  # NaN is not JSON: never written silently
        write_results(tmp_path / "nan", make_record("linear", {"top1": float("nan")}, cfg))


def test_git_commit(tmp_path):
    assert git_commit(tmp_path) == "unknown"  # not a repository
    head = git_commit()
    assert head == "unknown" or len(head.split("+")[0]) == 40


def test_variant_of():
    cfg = Config()
    assert variant_of(cfg) == "cpm"
    assert variant_of(replace(cfg, loss=replace(cfg.loss, topk=0))) == "cpm-wo-pm"
    assert variant_of(replace(cfg, loss=replace(cfg.loss, pe_start_epoch=cfg.train.epochs))) == "cpm-wo-pm"
    assert variant_of(cfg, random_init=True) == "random-init"
    assert variant_of(cfg, from_scratch=True) == "from-scratch"


def test_ensemble_of_identical_scores_equals_each(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 5))
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 5, 20)
    total, y = ensemble_scores([(scores, labels, "j"), (scores, labels, "b"), (scores, labels, "m")])
    assert np.allclose(total, 3 * scores)
    assert classification_report(total, y)["top1"] == classification_report(scores, labels)["top1"]
    # hand case: member A is confident-wrong on clip 0, B and C right -> the sum is right
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = c = np.array([[0.4, 0.6], [0.3, 0.7]])
    total, _ = ensemble_scores([(a, np.array([1, 1]), "a"), (b, np.array([1, 1]), "b"), (c, np.array([1, 1]), "c")])
    assert np.allclose(total, [[1.7, 1.3], [0.8, 2.2]])
    with pytest.raises(CPMError, match="same test clips"):
        ensemble_scores([(scores, labels, "a"), (scores, labels[::-1], "b")])
    with pytest.raises(CPMError, match="at least 2"):
        ensemble_scores([(scores, labels, "a")])


def test_scores_files(tmp_path):
    save_scores(tmp_path, np.ones((3, 2)) / 2, [0, 1, 1])
    s, y, rec = load_scores(tmp_path)
    assert s.dtype == np.float32 and y.tolist() == [0, 1, 1] and rec == {}
    with pytest.raises(CPMError, match="missing scores.npy, labels.npy"):
        load_scores(tmp_path / "nothing")


def test_table_puts_ours_beside_paper():
    recs = [_rec("linear", 80.0, "ntu60-xsub"), _rec("linear", 70.0, "ntu60-xsub", date="2023-01-01"),
            _rec("linear", 76.0, "ntu60-xsub", variant="cpm-wo-pm"),
            _rec("ensemble", 84.0, "ntu60-xsub", stream="3S", member_protocol="linear"),
            _rec("semi", 55.5, "ntu60-xview", fraction=0.01),
            _rec("finetune", 81.0, "ntu120-xset", variant="from-scratch"),
            _rec("linear", 60.0, "", name="demo")]
    text = results_table(recs)
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("| CPM (joint)"))
    assert row.split("|")[2].strip() == "80.0 / 78.7"  # latest run of the cell, paper beside it
    assert "| CPM (3S) | 84.0 / 83.2 |" in text
    assert "| CPM 1% | – / 56.7 | 55.5 / 57.5 |" in text
    assert "| ST-GCN | – / 81.5 | – / 88.3 | – / 70.7 | 81.0 / 73.2 |" in text
    assert "| NTU-60 X-Sub | 76.0 / 75.6 | 80.0 / 78.7 |" in text  # Table 4 (transposed, as in the paper)
    assert "| ISC | 76.3 | 85.2 | 67.9 | 67.1 | 80.9 | 36.0 |" in text  # competitors: paper numbers only
    other = text.split("Other runs")[1]
    assert "70.0" in other and "demo" in other and "80.0" not in other


def test_paper_numbers_cover_tables():
    assert PAPER["table1"]["rows"]["CPM (3S)"] == [83.2, 87.0, 73.0, 74.0, 90.7, 51.5]
    assert PAPER["table3"]["rows"]["CPM"] == [84.8, 91.1, 78.4, 78.9]
    for table in PAPER.values():
        assert all(len(v) == len(table["columns"]) for v in table["rows"].values())


def test_load_results_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text("{not json")
    with pytest.raises(CPMError, match="not valid JSON"):
        load_results([tmp_path])
    with pytest.raises(CPMError, match="neither"):
        load_results([tmp_path / "missing"])
    (tmp_path / "a" / "results.json").write_text(json.dumps({"metrics": {}}))
    with pytest.raises(CPMError, match="'protocol' and 'metrics'"):
        load_results([tmp_path / "a" / "results.json"])


def test_sweep_points_read_the_pretraining_config():
    def rec(k, top1, bench="ntu60-xview", date="2024-01-01", protocol="linear"):
        return _rec(protocol, top1, bench, date=date, pretrain_config={"loss": {"topk": k}},
                    config={"loss": {"topk": 999}})
    recs = [rec(50, 80.0), rec(100, 85.0), rec(100, 84.0, date="2024-02-01"), rec(200, 83.0),
            rec(100, 70.0, bench="ntu60-xsub"), rec(100, 10.0, protocol="knn")]
    assert config_value(recs[0], "loss.topk") == 50  # the encoder's config, not the evaluation config
    assert config_value(recs[0], "loss.nope") is None
    assert config_value({"config": {"a": {"b": 2}}}, "a.b") == 2
    pts = sweep_points(recs, "loss.topk")
    assert pts == {"ntu60-xview": {50: 80.0, 100: 84.0, 200: 83.0}, "ntu60-xsub": {100: 70.0}}  # latest wins
    assert sweep_points(recs, "loss.topk", "knn") == {"ntu60-xview": {100: 10.0}}


@pytest.mark.parametrize("record, msg", [
    ({"protocol": "linear", "metrics": [1]}, "field 'metrics' must be a mapping, got list"),
    ({"protocol": "linear", "metrics": {"top1": "87.5"}}, "field 'metrics.top1' must be a number, got str '87.5'"),
    ({"protocol": 3, "metrics": {}}, "field 'protocol' must be a string, got int 3"),
    ({"protocol": "semi", "metrics": {}, "fraction": "1%"}, "field 'fraction' must be a number, got str '1%'"),
    ({"protocol": "linear", "metrics": {"top1": True}}, "field 'metrics.top1' must be a number, got bool True"),
])
def test_wrong_typed_results_are_one_line_errors(tmp_path, record, msg):
    (tmp_path / "results.json").write_text(json.dumps(record))
    with pytest.raises(CPMError) as err:
        load_results([tmp_path])
    assert msg in str(err.value) and "\n" not in str(err.value)
