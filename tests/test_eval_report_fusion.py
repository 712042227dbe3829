"""Linear probe: best and last tested epoch, labelled (issue 13); ensemble fusion of softmax scores or logits."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from cpm.config import load_config
from cpm.data import build_dataset
from cpm.errors import CPMError
from cpm.cli.evaluate import linear_main
from cpm.cli.tools import ensemble_main
from cpm.eval.features import load_eval_encoder
from cpm.eval.linear import EpochTests, linear_eval
from cpm.eval.scores import ensemble_scores, load_scores, save_scores
from cpm.eval.tables import results_table
from eval_fixtures import tiny_setup

CPU = torch.device("cpu")


class _Scripted(nn.Module):
    """A 'classifier' whose test logits are set by hand before each call."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        return self.out


def test_epoch_tests_keep_last_and_best_hand_case():
    labels = torch.tensor([0, 1, 1, 0])
    tests = EpochTests(torch.zeros(4, 3), labels, every=2, last=5)
    fc = _Scripted()
    right = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    wrong_one = right.clone()
    wrong_one[0] = torch.tensor([0.0, 1.0])
    got = {}
    for epoch, out in ((1, None), (2, wrong_one), (3, None), (4, right), (5, wrong_one)):
        fc.out = out
        got[epoch] = tests(epoch, fc)
    assert got == {1: {}, 2: {"test_top1": 75.0}, 3: {}, 4: {"test_top1": 100.0}, 5: {"test_top1": 75.0}}
    assert (tests.best["epoch"], tests.best["top1"], tests.last["epoch"], tests.last["top1"]) == (4, 100.0, 5, 75.0)
    ties = EpochTests(torch.zeros(4, 3), labels, every=1, last=2)
    fc.out = right
    ties(1, fc), ties(2, fc)
    assert ties.best["epoch"] == 2  # a tie goes to the later epoch (lineage: best_result <= accuracy)


def test_linear_eval_reports_the_epoch_it_is_told(tmp_path):
    torch.set_num_threads(1)
    cfg_path, ckpt, _ = tiny_setup(tmp_path)
    cfg = load_config(cfg_path, ["eval.linear_epochs=4", "eval.linear_milestones=[3]", "eval.linear_test_every=2"])
    train_set, test_set = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")
    res = {}
    for report in ("last", "best"):
        ev = load_eval_encoder(cfg, ckpt)
        res[report] = linear_eval(ev, train_set, test_set, replace(cfg.eval, report=report), CPU, progress=False)
    last, best = res["last"], res["best"]
    assert [h.get("test_top1") is not None for h in last["history"]] == [False, True, False, True]
    assert last["last"] == best["last"] and last["best"] == best["best"]  # the choice does not move a number
    assert last["last"]["epoch"] == 4 and best["best"]["epoch"] in (2, 4)
    assert best["best"]["top1"] == max(h["test_top1"] for h in last["history"] if "test_top1" in h)
    assert last["top1"] == last["last"]["top1"] and best["top1"] == best["best"]["top1"]
    assert (last["reported"], best["reported"]) == ("last", "best")
    assert torch.allclose(last["scores"], torch.softmax(last["logits"], dim=1))


def test_ensemble_weights_and_logit_fusion_hand_case(tmp_path):
    labels = np.array([1])
    # joint and bone lean mildly to class 0, motion strongly to class 1
    logits = {"j": np.array([[4.0, 0.0]]), "b": np.array([[4.0, 0.0]]), "m": np.array([[0.0, 9.0]])}
    soft = {k: np.exp(v) / np.exp(v).sum(1, keepdims=True) for k, v in logits.items()}
    members = lambda d: [(d[k], labels, k) for k in "jbm"]  # noqa: E731
    total, _ = ensemble_scores(members(soft))  # softmax sum: ~[1.964, 1.036] -> class 0
    assert total.argmax() == 0 and total[0, 0] == pytest.approx(2 / (1 + np.exp(-4)) + 1 / (1 + np.exp(9)))
    total, _ = ensemble_scores(members(logits))  # CrosSCLR: logit sum [8, 9] -> class 1
    assert total.tolist() == [[8.0, 9.0]]
    total, _ = ensemble_scores(members(logits), [0.6, 0.6, 0.4])  # AimCLR weights: [4.8, 3.6] -> class 0
    assert np.allclose(total, [[4.8, 3.6]])
    with pytest.raises(CPMError, match="2 weights given for 3 members"):
        ensemble_scores(members(logits), [1.0, 1.0])
    save_scores(tmp_path / "knn", soft["j"], labels)  # a protocol without logits
    with pytest.raises(CPMError, match="missing logits.npy"):
        load_scores(tmp_path / "knn", "logits")
    save_scores(tmp_path / "lin", soft["j"], labels, logits["j"])
    assert load_scores(tmp_path / "lin", "logits")[0].tolist() == [[4.0, 0.0]]


def test_linear_cli_labels_epochs_and_ensemble_fuses_logits(tmp_path, capsys):
    torch.set_num_threads(1)
    cfg, ckpt, _ = tiny_setup(tmp_path)
    outs = [tmp_path / s for s in ("a", "b")]
    for seed, out in zip((0, 1), outs):
        assert linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), "--no-progress", "--device", "cpu",
                            "--seed", str(seed), "--out", str(out), "--set", "eval.report=best"]) == 0
    printed = capsys.readouterr().out
    assert "[best epoch; last (epoch 3)" in printed
    assert (outs[0] / "logits.npy").is_file()
    assert ensemble_main([*map(str, outs), "--out", str(tmp_path / "e"), "--fusion", "logits",
                          "--weights", "0.6", "0.4"]) == 0
    fused = 0.6 * np.load(outs[0] / "logits.npy").astype(np.float64) + 0.4 * np.load(outs[1] / "logits.npy")
    assert np.allclose(np.load(tmp_path / "e" / "scores.npy"), fused, atol=1e-5)
    rec = json.loads((tmp_path / "e" / "results.json").read_text())
    assert (rec["fusion"], rec["weights"], rec["member_reported"]) == ("logits", [0.6, 0.4], "best")
    lin = json.loads((outs[0] / "results.json").read_text())["metrics"]
    assert lin["reported"] == "best" and lin["top1"] == lin["best"]["top1"] and lin["last"]["epoch"] == 3


def test_results_table_says_which_epoch():
    rec = {"protocol": "linear", "benchmark": "ntu60-xsub", "stream": "joint", "variant": "cpm", "date": "x",
           "metrics": {"top1": 80.0, "top5": 95.0, "reported": "best"}}
    text = results_table([rec])
    assert text.startswith("Linear cells say which probe epoch they show")
    row = next(line for line in text.splitlines() if line.startswith("| CPM (joint)"))
    assert row.split("|")[2].strip() == "80.0 (best) / 78.7"
