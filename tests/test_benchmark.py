"""Smoke test of scripts/benchmark.py --quick on tiny shapes: every section present, finite and self-consistent
numbers (no timing assertions)."""
import json
import math
from pathlib import Path

import pytest
import torch

from cpm.bench.ceiling import encoder_ceiling, reference_encoder
from cpm.bench.cli import main
from cpm.bench.setup import BenchOptions
from cpm.config import load_config
from cpm.bench.memory import TreeMemory, descendants
from cpm.bench.report import write_json

TINY = ["model.hidden_channels=4", "model.hidden_dim=16", "model.proj_hidden=16", "model.proj_dim=8",
        "model.pred_hidden=16", "loss.queue_size=64", "loss.topk=4", "eval.mining_k=4", "data.num_frames=16",
        "eval.batch_size=8"]
SECTIONS = ("trainer", "ceiling", "throughput", "breakdown", "encoder", "linear_eval", "data_prep", "memory")
FAKE_REFERENCE = "import sys; print('reference-style pipeline: 2.5 samples/s', sys.argv[1:])"


def _numbers(x, path="$"):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, x
    elif x is None:
        yield path, math.nan


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    reference = tmp_path_factory.mktemp("ref") / "ref.py"
    reference.write_text(FAKE_REFERENCE)
    argv = ["--device", "cpu", "--quick", "--json", str(out), "--batch", "4", "--steps", "1", "--warmup", "1",
            "--trainer-batches", "4", "--trainer-steps", "2", "--reference", str(reference),
            "--rounds", "1", "--workers", "0", "--threads", "1", "--train-samples", "16", "--eval-samples", "16",
            "--eval-epochs", "3", "--prep-files", "6", "--mem-gb", "0.005", "--set", *TINY]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_every_section_present_with_finite_numbers(quick_run):
    assert set(quick_run["sections"]) == set(SECTIONS)
    bad = [p for p, v in _numbers(quick_run) if not math.isfinite(v)]
    assert not bad, f"non-finite numbers: {bad}"
    assert quick_run["config"]["input"] == [3, 16, 25, 2] and quick_run["config"]["queue_size"] == 64


def test_sections_are_self_consistent(quick_run):
    s = quick_run["sections"]
    tr = s["trainer"]
    row = tr["batches"]["4"]  # one round: pretrain.py's steady steps against the fake reference's 2.5 samples/s
    assert tr["threads"] == 1 and tr["steps"] == 2 and row["reference_rounds"] == [2.5]
    assert row["ours_samples_per_s"] > 0 and row["ratio"] == pytest.approx(row["ours_samples_per_s"] / 2.5)
    assert row["ratio_min"] == row["ratio"] == row["ratio_max"]
    t = s["throughput"]
    assert t["ours_samples_per_s"] > 0
    assert t["ratio"] == pytest.approx(t["ours_samples_per_s"] / t["reference_samples_per_s"])
    b = s["breakdown"]
    assert sum(r["pct"] for r in b["rows"].values()) == pytest.approx(100.0)
    assert sum(r["ms"] for r in b["rows"].values()) == pytest.approx(b["step_ms"])
    assert b["met"] == (b["loss_mining_queue_pct"] <= 5.0) and b["queue_size"] == 64 and b["topk"] == 4
    c = s["ceiling"]  # the fake reference has no STGCN class: ours alone, the ceiling from its printed rate
    r = c["batches"]["4"]
    assert not c["reference_encoder"] and "reference_s" not in r and "encoder_ratio" not in r
    assert r["reference_step_s"] == pytest.approx(4 / 2.5)
    assert r["ceiling"] == pytest.approx(r["reference_step_s"] / (2 * r["ours_no_dropout_s"]))
    assert r["dropout_share"] == pytest.approx(1 - r["ours_no_dropout_s"] / r["ours_s"])
    e = s["encoder"]
    assert e["gflop_per_fwd_bwd"] > 0 and e["ratio"] == pytest.approx(e["encoder_gflops"] / e["matmul_gflops"])
    assert e["samples"] == 2 * 4  # both views of one batch
    le = s["linear_eval"]
    assert le["samples"] == 16 and le["epochs"] == 3
    assert le["uncached_s"] == pytest.approx(le["uncached_epoch_s"] * 3)
    assert le["ratio"] == pytest.approx(le["uncached_s"] / le["cached_s"])
    p = s["data_prep"]
    assert p["files"] == 6 and p["one_worker"]["samples_written"] == p["all_cores"]["samples_written"] == 6
    m = s["memory"]
    assert m["array_gb"] >= 0.005 and m["samples_streamed"] > 0 and m["peak_main_rss_gb"] > 0
    assert m["met"] == (m["peak_tree_pss_gb"] < 1.5)


def test_bad_override_is_a_one_line_error(tmp_path, capsys):
    assert main(["--device", "cpu", "--json", str(tmp_path / "x.json"), "--threads", "1", "--only", "encoder",
                 "--set", "model.hidden_chanels=4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hidden_chanels" in err[0]


def test_json_replaces_non_finite_by_null(tmp_path):
    path = write_json({"a": float("nan"), "b": [1.0, float("inf")]}, tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None]}


def test_tree_memory_sees_a_child_process():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; x = b'x' * (64 << 20); time.sleep(3)"])
    try:
        import os
        import time

        time.sleep(1.0)
        assert child.pid in descendants(os.getpid())
        mem = TreeMemory(os.getpid())
        assert mem.sample() >= 60  # MB: the child's 64 MB buffer is counted
    finally:
        child.kill()
        child.wait()


def test_steady_rate_skips_the_first_steps_and_weights_by_time(tmp_path):
    from cpm.bench.trainer import steady_rate

    path = tmp_path / "metrics.jsonl"
    recs = [{"kind": "step", "step": i + 1, "samples_per_s": r} for i, r in enumerate([1.0, 10.0, 2.0, 4.0])]
    recs.append({"kind": "epoch", "step": 4, "samples_per_s": 100.0})
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    # steps 3 and 4: 8 samples in 4 s and in 2 s -> 16 samples / 6 s
    assert steady_rate(path, batch=8, skip=2) == pytest.approx(16 / 6)
    with pytest.raises(Exception, match="no step records"):
        steady_rate(path, batch=8, skip=4)


def test_pretrain_argv_runs_the_paper_config_on_synthetic_clips(tmp_path):
    from types import SimpleNamespace

    from cpm.bench.trainer import CONFIG, pretrain_argv

    opts = SimpleNamespace(workers=2, device="cpu", overrides=["model.hidden_channels=4"])
    argv = pretrain_argv(64, 6, 2, opts, tmp_path)
    sets = argv[argv.index("--set") + 1:]
    assert argv[argv.index("--config") + 1] == str(CONFIG) and CONFIG.name == "ntu60_xsub.yaml"
    assert {"data.format=synthetic", "train.batch_size=64", "data.synthetic.num_train=512", "data.num_workers=2",
            "logging.log_every=1", "train.device=cpu"} <= set(sets)
    assert sets[-1] == "model.hidden_channels=4"  # user overrides apply last


def test_ceiling_times_the_reference_scripts_own_encoder(tmp_path):
    """A reference script with an `STGCN` class: its encoder is imported (its main does not run) and timed on
    the same clips; without a trainer section there is no ceiling."""
    script = tmp_path / "ref.py"
    script.write_text("import torch\nclass STGCN(torch.nn.Module):\n    def __init__(self):\n"
                      "        super().__init__(); self.w = torch.nn.Parameter(torch.ones(()))\n"
                      "    def forward(self, x):\n        return x.mean((2, 3, 4)) * self.w\n"
                      "if __name__ == '__main__':\n    raise SystemExit('main must not run')\n")
    clips = torch.randn(2, 3, 16, 25, 2)
    assert isinstance(reference_encoder(script, clips), torch.nn.Module) and reference_encoder(None, clips) is None
    picky = tmp_path / "picky.py"  # an encoder for other clips: left out, not a crash
    picky.write_text("import torch\nclass STGCN(torch.nn.Module):\n    def forward(self, x):\n"
                     "        raise ValueError('expects 20 joints')\n")
    assert reference_encoder(picky, clips) is None
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "ntu60_xsub.yaml",
                      [*TINY, "data.format=synthetic"])
    opts = BenchOptions.for_device(torch.device("cpu"), True, trainer_batches=(2,), rounds=1, reference=script)
    out = encoder_ceiling(cfg, opts)
    row = out["batches"]["2"]
    assert out["reference_encoder"] and row["reference_s"] > 0 and "ceiling" not in row
    assert row["encoder_ratio"] == pytest.approx(row["reference_s"] / row["ours_s"])
    assert row["encoder_ratio_no_dropout"] == pytest.approx(row["reference_s"] / row["ours_no_dropout_s"])
