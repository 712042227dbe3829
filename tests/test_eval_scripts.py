"""Every evaluation script end to end on tiny data (in-process mains; one real subprocess), and bad input."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cpm.cli.evaluate import finetune_main, knn_main, linear_main, semi_main
from cpm.cli.tools import ensemble_main, plot_mining_main, plot_sweep_main, results_table_main, tsne_main
from cpm.eval.metrics import classification_report
from cpm.train.logger import RunLogger
from eval_fixtures import tiny_setup, write_checkpoint

REPO = Path(__file__).resolve().parents[1]
FAST = ["--no-progress", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Config and random-weight checkpoints of the joint, bone and motion streams on one tiny dataset."""
    tmp = tmp_path_factory.mktemp("runs")
    out = {}
    for stream in ("joint", "bone", "motion"):
        cfg, ckpt, d = tiny_setup(tmp, stream)
        out[stream] = (cfg, ckpt)
    out["dict"] = d
    return out


def _results(folder) -> dict:
    return json.loads((Path(folder) / "results.json").read_text())


def _check_outputs(folder, num_test=12, num_classes=4):
    """results.json top-1 agrees with scores.npy/labels.npy; confusion rows sum to class counts."""
    rec = _results(folder)
    scores, labels = np.load(folder / "scores.npy"), np.load(folder / "labels.npy")
    assert scores.shape == (num_test, num_classes)
    assert rec["metrics"]["top1"] == pytest.approx(classification_report(scores, labels)["top1"])
    counts = np.bincount(labels, minlength=num_classes).tolist()
    assert np.asarray(rec["metrics"]["confusion"]).sum(1).tolist() == counts
    assert rec["metrics"]["top5"] >= rec["metrics"]["top1"]
    assert (folder / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert rec["git_commit"] and rec["date"]
    assert rec["protocol"] == "ensemble" or rec["config"]["data"]["format"] == "arrays"
    return rec


def test_linear_eval_trained_random_and_uncached(runs, tmp_path):
    cfg, ckpt = runs["joint"]
    base = ["--config", str(cfg), "--checkpoint", str(ckpt), *FAST]
    assert linear_main(base + ["--out", str(tmp_path / "lin")]) == 0
    rec = _check_outputs(tmp_path / "lin")
    assert rec["protocol"] == "linear" and rec["variant"] == "cpm" and rec["stream"] == "joint"
    assert rec["checkpoint"] == str(ckpt) and len(rec["history"]) == 3 and rec["cached"] is True
    assert rec["pretrain_config"]["loss"]["topk"] == 4 and rec["pretrain_config"]["model"]["hidden_channels"] == 4
    assert linear_main(base + ["--out", str(tmp_path / "slow"), "--no-cache"]) == 0
    slow = _check_outputs(tmp_path / "slow")
    assert slow["cached"] is False and slow["metrics"]["confusion"] == rec["metrics"]["confusion"]
    assert np.allclose(np.load(tmp_path / "slow" / "scores.npy"), np.load(tmp_path / "lin" / "scores.npy"), atol=1e-4)
    assert linear_main(base + ["--out", str(tmp_path / "rand"), "--random-init"]) == 0
    rnd = _check_outputs(tmp_path / "rand")
    assert rnd["variant"] == "random-init"
    assert not np.allclose(np.load(tmp_path / "rand" / "scores.npy"), np.load(tmp_path / "lin" / "scores.npy"))


def test_linear_eval_side_by_side_with_random_init(runs, tmp_path, capsys):
    cfg, ckpt = runs["joint"]
    assert linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST, "--out", str(tmp_path / "demo"),
                        "--with-random-init"]) == 0
    trained, rnd = _check_outputs(tmp_path / "demo"), _check_outputs(tmp_path / "demo_random_init")
    assert (trained["variant"], rnd["variant"]) == ("cpm", "random-init")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    t, r = trained["metrics"], rnd["metrics"]
    assert last == (f"linear top-1: pretrained {t['top1']:.2f}% (standardised {t['top1_standardized']:.2f}%) | "
                    f"random init {r['top1']:.2f}% (standardised {r['top1_standardized']:.2f}%)")


def test_linear_eval_with_the_input_clips_baseline(runs, tmp_path, capsys):
    """--with-input probes the clips themselves (no encoder) with the evaluation config's seed, writes them next
    to the encoder's results and adds them to the comparison line."""
    from cpm.config import load_config
    from cpm.eval.protocols import input_probes

    cfg, ckpt = runs["joint"]
    assert linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST, "--out", str(tmp_path / "lin"),
                        "--with-input", "--seed", "2"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    got = _results(tmp_path / "lin_input")
    want = input_probes(load_config(cfg), seed=2)
    assert got["metrics"] == pytest.approx(want) and got["seed"] == 2
    assert got["protocol"] == "input_probes" and got["git_commit"] and got["config"]["data"]["format"] == "arrays"
    t = _results(tmp_path / "lin")["metrics"]
    assert last == (f"linear top-1: pretrained {t['top1']:.2f}% (standardised {t['top1_standardized']:.2f}%) | "
                    f"input clips standardised {want['linear_std']:.2f}% (kNN {want['knn']:.2f}%)")


def test_default_out_and_config_from_checkpoint(runs):
    _, ckpt = runs["joint"]
    # no --config: the checkpoint's stored config names the dataset; no --out: next to the checkpoint
    assert knn_main(["--checkpoint", str(ckpt), *FAST, "--set", "eval.knn_k=3"]) == 0
    folder = ckpt.parent / "eval" / "knn"
    rec = _check_outputs(folder)
    assert rec["protocol"] == "knn" and rec["k"] == 3
    assert np.allclose(np.load(folder / "scores.npy").sum(1), 1.0, atol=1e-5)


def test_semi_supervised_saves_subset(runs, tmp_path, capsys):
    cfg, ckpt = runs["joint"]
    base = ["--config", str(cfg), "--checkpoint", str(ckpt), *FAST]
    assert semi_main(base + ["--fraction", "0.5", "--out", str(tmp_path / "semi")]) == 0
    rec = _check_outputs(tmp_path / "semi")
    subset = json.loads((tmp_path / "semi" / "label_subset.json").read_text())
    assert rec["protocol"] == "semi" and rec["fraction"] == 0.5
    assert len(subset["indices"]) == rec["metrics"]["num_train"] == 12
    for bad in ("0", "1.5"):
        assert semi_main(base + ["--fraction", bad, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--fraction" in err[0]


def test_finetune_from_scratch_and_pretrained(runs, tmp_path):
    cfg, ckpt = runs["joint"]
    assert finetune_main(["--config", str(cfg), "--from-scratch", *FAST, "--out", str(tmp_path / "scratch")]) == 0
    rec = _check_outputs(tmp_path / "scratch")
    assert rec["protocol"] == "finetune" and rec["variant"] == "from-scratch" and rec["checkpoint"] is None
    assert finetune_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST, "--out", str(tmp_path / "ft")]) == 0
    assert _check_outputs(tmp_path / "ft")["variant"] == "cpm"


def test_three_stream_ensemble(runs, tmp_path):
    outs = []
    for stream in ("joint", "bone", "motion"):
        cfg, ckpt = runs[stream]
        outs.append(tmp_path / stream)
        assert linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST, "--out", str(outs[-1])]) == 0
        assert _results(outs[-1])["stream"] == stream
    assert ensemble_main([*map(str, outs), "--out", str(tmp_path / "3s")]) == 0
    rec = _check_outputs(tmp_path / "3s")
    assert rec["stream"] == "3S" and rec["member_protocol"] == "linear" and len(rec["members"]) == 3
    total = sum(np.load(o / "scores.npy").astype(np.float64) for o in outs)
    assert np.allclose(np.load(tmp_path / "3s" / "scores.npy"), total, atol=1e-5)
    # the ensemble of one run with itself predicts what the run predicts
    assert ensemble_main([str(outs[0])] * 3 + ["--out", str(tmp_path / "same")]) == 0
    assert _results(tmp_path / "same")["metrics"]["top1"] == _results(outs[0])["metrics"]["top1"]
    # and the table puts all of it somewhere
    assert results_table_main([str(tmp_path), "--out", str(tmp_path / "table.md")]) == 0
    text = (tmp_path / "table.md").read_text()
    assert "### Table 1." in text and "Other runs" in text and text.count("| linear |") == 3


def test_tsne_two_checkpoints(runs, tmp_path):
    cfg, ckpt = runs["joint"]
    wo_pm = {**runs["dict"], "loss": {**runs["dict"]["loss"], "topk": 0}}
    other = write_checkpoint(tmp_path / "wo" / "last.pt", wo_pm, seed=5)
    assert tsne_main(["--config", str(cfg), "--checkpoint", str(ckpt), "--compare", str(other), *FAST,
                      "--classes", "3", "--perplexity", "3", "--out", str(tmp_path / "tsne")]) == 0
    rec = _results(tmp_path / "tsne")
    assert set(rec["metrics"]["panels"]) == {"CPM", "CPM (w/o PM)"} and len(rec["metrics"]["classes"]) == 3
    assert rec["metrics"]["num_points"] == 9  # 3 test clips in each of 3 classes
    assert (tmp_path / "tsne" / "tsne.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_mining_labels_from_run_config(runs, tmp_path):
    folders = []
    for name, topk, precisions in (("cpm", 4, [0.2, 0.6]), ("wo", 0, [0.2, 0.3])):
        run = tmp_path / name
        log = RunLogger(run, tensorboard=False)
        for e, p in enumerate(precisions):
            log.log("epoch", e, e + 1, {"mining_precision": p})
        log.close()
        d = {**runs["dict"], "loss": {**runs["dict"]["loss"], "topk": topk}}
        (run / "config.yaml").write_text(yaml.safe_dump(d))
        folders.append(str(run))
    assert plot_mining_main(folders + ["--out", str(tmp_path / "fig")]) == 0
    metrics = _results(tmp_path / "fig")["metrics"]
    assert metrics["CPM [cpm]"]["final"] == pytest.approx(60.0)
    assert metrics["CPM (w/o PM) [wo]"]["precision"] == pytest.approx([20.0, 30.0])
    assert (tmp_path / "fig" / "mining_precision.png").is_file() and (tmp_path / "fig" / "training_curves.png").is_file()


def test_plot_sweep_over_k(runs, tmp_path, capsys):
    cfg, _ = runs["joint"]
    for k in (2, 4, 8):  # pretraining runs differing in K only, each linear-evaluated
        d = {**runs["dict"], "loss": {**runs["dict"]["loss"], "topk": k}}
        ckpt = write_checkpoint(tmp_path / f"k{k}" / "last.pt", d)
        assert linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), *FAST]) == 0
    capsys.readouterr()
    assert plot_sweep_main([str(tmp_path), "--key", "loss.topk", "--out", str(tmp_path / "fig4")]) == 0
    rec = _results(tmp_path / "fig4")
    tops = {k: _results(tmp_path / f"k{k}" / "eval" / "linear")["metrics"]["top1"] for k in (2, 4, 8)}
    assert rec["metrics"]["tiny"] == {str(k): v for k, v in tops.items()}
    assert (tmp_path / "fig4" / "sweep.png").is_file()
    assert plot_sweep_main([str(tmp_path), "--key", "loss.nope", "--out", str(tmp_path / "x")]) == 2
    assert "no 'linear' results with a numeric 'loss.nope'" in capsys.readouterr().err


def test_bad_checkpoints_are_one_line_errors(runs, tmp_path, capsys):
    cfg, ckpt = runs["joint"]

    def err_of(path) -> str:
        assert linear_main(["--config", str(cfg), "--checkpoint", str(path), *FAST, "--out", str(tmp_path)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        return lines[0]

    assert "file not found" in err_of(tmp_path / "nope.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    assert "cannot be read" in err_of(tmp_path / "corrupt.pt")
    state = torch.load(ckpt, weights_only=True)
    state["model"] = {k.replace("encoder.blocks.9.", "encoder.blocks.99."): v for k, v in state["model"].items()}
    torch.save(state, tmp_path / "wrong.pt")
    msg = err_of(tmp_path / "wrong.pt")
    assert "missing keys: blocks.9." in msg and "unexpected keys: blocks.99." in msg
    assert linear_main(["--checkpoint", str(ckpt), "--set", "eval.linear_epochs=0", *FAST, "--out", str(tmp_path)]) == 2
    assert "eval.linear_epochs" in capsys.readouterr().err


def test_script_wrapper_runs(runs, tmp_path):
    """The thin scripts/ wrapper itself, as a user runs it."""
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "ensemble.py"), str(tmp_path / "a"),
                          str(tmp_path / "b"), "--out", str(tmp_path / "e")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith("error: ensemble member") and res.stdout == ""
