"""metrics.jsonl: records, NaN as null, resume drops what a crashed run logged past the checkpoint."""
from cpm.runtime.metrics_file import read_metrics
from cpm.train.logger import RunLogger


def test_records_and_resume_truncation(tmp_path):
    log = RunLogger(tmp_path, tensorboard=False)
    for step in range(1, 6):
        log.log("step", 0, step, {"loss": 1.0 / step, "mining_precision": float("nan")})
    log.log("epoch", 0, 5, {"loss": 0.5})
    log.close()
    recs = read_metrics(tmp_path / "metrics.jsonl", "step")
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5]
    assert recs[1]["loss"] == 0.5 and recs[0]["mining_precision"] is None
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"kind": "step", "ste')  # a line cut short by a crash

    log = RunLogger(tmp_path, tensorboard=False, resume_step=3)  # the checkpoint was at step 3
    log.log("step", 0, 4, {"loss": 9.0})
    log.close()
    assert [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "metrics.jsonl")] == [
        (1, 1.0), (2, 0.5), (3, 1.0 / 3), (4, 9.0)]


def test_disabled_logger_writes_nothing(tmp_path):
    log = RunLogger(tmp_path / "x", enabled=False)
    log.log("step", 0, 1, {"loss": 1.0})
    log.close()
    assert not (tmp_path / "x").exists()


def test_fresh_logger_replaces_old_metrics(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"kind": "step", "epoch": 0, "step": 1, "loss": 3.0}\n')
    log = RunLogger(tmp_path, tensorboard=False)
    log.close()
    assert read_metrics(tmp_path / "metrics.jsonl") == []
