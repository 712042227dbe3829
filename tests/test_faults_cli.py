"""Every CLI with the bad flags and contradictions met so far: exit code, no traceback, the culprit named, and
the files that must survive unchanged (by hash)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cpm.bench.cli import main as bench_main
from cpm.prepare.ntu import main as prepare_ntu_main
from cpm.data.subsets import label_subset, save_subset
from cpm.cli.evaluate import finetune_main, knn_main, linear_main, semi_main
from cpm.cli.tools import ensemble_main, plot_sweep_main, results_table_main, tsne_main
from cpm.eval.records import write_results
from cpm.eval.scores import save_scores
from cpm.cli.pretrain import main as pretrain_main
from eval_fixtures import tiny_setup
from fault_helpers import assert_clean_end, digest, tiny_pretrain_config

REPO = Path(__file__).resolve().parents[1]
EXIT_USER = 2
FAST = ["--device", "cpu", "--no-progress"]


@pytest.fixture
def no_cuda(monkeypatch):
    """This machine has no GPU, whatever the machine running the tests has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.mark.parametrize("sets, culprit", [
    (["train.epochs=-1"], "'train.epochs': must be >= 1, got -1"),
    (["logging.log_every=0"], "'logging.log_every'"),
    (["data.num_workers=-1"], "'data.num_workers'"),
    (["train.device=gpu"], "'train.device': expected auto|cpu|cuda|cuda:N, got 'gpu'"),
    (["train.device=cuda"], "train.device 'cuda': CUDA is not available"),
    (["train.device=cuda:7"], "train.device 'cuda:7': CUDA is not available"),
    (["eval.knn_k=0", "eval.knn_every=1"], "'eval.knn_k': must be >= 1"),
    (["optim.final_lr=-0.01"], "'optim.final_lr': must be in [0, optim.lr="),
    (["optim.lr=0.1", "optim.final_lr=0.2"], "'optim.final_lr'"),
    (["train.epochs=ten"], "'train.epochs': expected int, got str 'ten'"),
])
def test_pretrain_bad_config_values(tmp_path, capsys, no_cuda, sets, culprit):
    cfg = tiny_pretrain_config(tmp_path)
    code = pretrain_main(["--config", str(cfg), "--out", str(tmp_path / "run"), "--set", *sets])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, culprit)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_pretrain_accepts_yaml_1_1_floats_and_repeated_set(tmp_path):
    cfg = tiny_pretrain_config(tmp_path)
    assert pretrain_main(["--config", str(cfg), "--out", str(tmp_path / "run"), "--set", "optim.lr=1e-1",
                          "--set", "optim.final_lr=5E-4"]) == 0
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["optim"]
    assert (saved["lr"], saved["final_lr"]) == (0.1, 5e-4)


def test_pretrain_run_folders_are_kept(tmp_path, capsys):
    cfg = tiny_pretrain_config(tmp_path)
    for run in ("a", "b"):
        assert pretrain_main(["--config", str(cfg), "--out", str(tmp_path / run)]) == 0
    (tmp_path / "a" / "epoch_0001.pt").rename(tmp_path / "a" / "kept.pt")
    (tmp_path / "b" / "last.pt").rename(tmp_path / "b" / "epoch_0001.pt")  # a run whose last.pt is gone
    before = digest(tmp_path)
    capsys.readouterr()
    cases = [
        (["--out", str(tmp_path / "b"), "--resume", "auto"], "has no last.pt but holds epoch_0001.pt, metrics.jsonl"),
        (["--out", str(tmp_path / "b"), "--resume", str(tmp_path / "a" / "last.pt")], "holds another run"),
        (["--out", str(tmp_path / "a")], "already holds checkpoints or metrics of another run"),
    ]
    for args, culprit in cases:
        code = pretrain_main(["--config", str(cfg), *args])
        assert_clean_end(code, capsys.readouterr().err, EXIT_USER, culprit, "--force")
    assert digest(tmp_path) == before


def test_debug_flag_adds_the_traceback(tmp_path, capsys):
    cfg = tiny_pretrain_config(tmp_path)
    assert pretrain_main(["--config", str(cfg), "--set", "train.epochs=0", "--debug"]) == EXIT_USER
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: config key 'train.epochs'")


@pytest.fixture(scope="module")
def tiny_eval(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    cfg, ckpt, _ = tiny_setup(tmp)
    return tmp, cfg, ckpt


@pytest.mark.parametrize("main, extra, culprit", [
    # both --set flags are kept: the first one is the bad one
    (linear_main, ["--set", "eval.knn_k=0", "--set", "eval.linear_epochs=1"], "'eval.knn_k'"),
    (knn_main, ["--set", "data.num_workers=-1"], "'data.num_workers'"),
    (knn_main, ["--device", "cuda:7"], "--device 'cuda:7': CUDA is not available"),
    (knn_main, ["--set", "train.device=gpu"], "'train.device'"),
    (finetune_main, ["--set", "optim.final_lr=-1"], "'optim.final_lr'"),
    (semi_main, ["--fraction", "0"], "--fraction"),
    (tsne_main, ["--classes", "1"], "--classes must be >= 2"),
])
def test_eval_clis_bad_flags(tiny_eval, capsys, no_cuda, main, extra, culprit):
    tmp, cfg, ckpt = tiny_eval
    fast = ["--no-progress"] if "--device" in extra else FAST
    code = main(["--config", str(cfg), "--checkpoint", str(ckpt), *fast, "--out", str(tmp / "x"), *extra])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, culprit)


def test_semi_supervised_subset_contradicting_fraction(tiny_eval, capsys):
    tmp, cfg, ckpt = tiny_eval
    labels = np.arange(24) % 4  # the tiny training split
    subset = save_subset(tmp / "half.json", label_subset(labels, 0.5, 0), fraction=0.5, seed=0, num_samples=24)
    code = semi_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST, "--out", str(tmp / "semi"),
                      "--fraction", "0.01", "--subset", str(subset)])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, "holds a 50% label subset", "--fraction 0.5")
    assert not (tmp / "semi" / "results.json").exists()  # nothing recorded as 1 %


def test_ensemble_out_naming_a_member_is_refused(tmp_path, capsys):
    runs = [tmp_path / s for s in ("joint", "bone")]
    for i, run in enumerate(runs):
        save_scores(run, np.eye(3, dtype=np.float32) * (i + 1), np.arange(3))
        write_results(run, {"protocol": "linear", "metrics": {"top1": 100.0}, "stream": run.name})
    before = digest(tmp_path)
    code = ensemble_main([*map(str, runs), "--out", str(runs[1])])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, f"is the ensemble member {runs[1]}", "--force")
    assert digest(tmp_path) == before
    assert ensemble_main([*map(str, runs), "--out", str(tmp_path / "3s")]) == 0


@pytest.mark.parametrize("main", [results_table_main, plot_sweep_main])
def test_results_of_wrong_types(tmp_path, capsys, main):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps({"protocol": "linear", "metrics": {"top1": "high"}}))
    extra = ["--key", "loss.topk", "--out", str(tmp_path / "o")] if main is plot_sweep_main else []
    code = main([str(tmp_path / "r"), *extra])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, "field 'metrics.top1' must be a number")


@pytest.mark.parametrize("extra, culprit", [
    (["--raw", "{tmp}/missing"], "--raw"),
    (["--raw", "{tmp}", "--workers", "0"], "--workers 0"),
])
def test_prepare_ntu_bad_flags(tmp_path, capsys, extra, culprit):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code = prepare_ntu_main([*args, "--out", str(tmp_path / "o"), "--benchmark", "xsub", "--no-progress"])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, culprit)


def test_benchmark_bad_override(tmp_path, capsys):
    code = bench_main(["--device", "cpu", "--json", str(tmp_path / "b.json"), "--only", "encoder",
                       "--set", "model.hidden_channels=0"])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, "'model.hidden_channels'")


def test_script_wrapper_stderr_is_one_line(tmp_path):
    """The real process, as a user runs it: one line on stderr, nothing on stdout, exit 2."""
    cfg = tiny_pretrain_config(tmp_path)
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "pretrain.py"), "--config", str(cfg),
                          "--set", "train.epochs=-1", "--set", "logging.log_every=0"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == EXIT_USER and res.stdout == ""
    assert res.stderr.startswith("error: 2 config problems: ") and res.stderr.count("\n") == 1
    assert "'train.epochs'" in res.stderr and "'logging.log_every'" in res.stderr
