"""Semi-supervised / full fine-tuning: label fractions, saved subsets, training updates the encoder."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from cpm.config import load_config
from cpm.data import build_dataset
from cpm.errors import CPMError
from cpm.eval.features import load_eval_encoder
from cpm.eval.finetune import SUBSET_FILE, check_fraction, finetune, labelled_subset, load_augment
from eval_fixtures import NUM_CLASSES, tiny_setup

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def tiny(tmp_path):
    cfg_path, ckpt, _ = tiny_setup(tmp_path)
    cfg = load_config(cfg_path)
    return cfg, ckpt, build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, float("nan")])
def test_fraction_must_be_in_0_1(bad):
    with pytest.raises(CPMError, match=r"--fraction: expected a label fraction in \(0, 1\]"):
        check_fraction(bad)
    assert check_fraction(1) == 1.0


def test_labelled_subset_is_balanced_saved_and_reloaded(tmp_path):
    labels = np.repeat(np.arange(3), 20)  # 20 clips per class
    idx = labelled_subset(labels, 0.1, seed=5, out_dir=tmp_path)
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2]
    assert (tmp_path / SUBSET_FILE).is_file()
    again = labelled_subset(labels, 0.1, seed=123, subset_file=tmp_path / SUBSET_FILE)
    assert np.array_equal(idx, again)  # the saved file wins over the seed
    assert np.array_equal(idx, labelled_subset(labels, 0.1, seed=5))
    with pytest.raises(CPMError, match="drawn from 60 samples"):
        labelled_subset(labels[:30], 0.1, seed=5, subset_file=tmp_path / SUBSET_FILE)


def test_finetune_trains_encoder_and_classifier(tiny):
    cfg, ckpt, train_set, test_set = tiny
    ev = load_eval_encoder(cfg, ckpt)
    before = {k: v.clone() for k, v in ev.encoder.state_dict().items()}
    ecfg = replace(cfg.eval, finetune_epochs=6, finetune_milestones=[5], finetune_lr=0.05)
    res = finetune(ev.encoder, train_set, test_set, ev.stream, ecfg, CPU, seed=0, progress=False)
    after = res["model"].encoder.state_dict()
    assert not torch.equal(before["blocks.1.gcn.conv.weight"], after["blocks.1.gcn.conv.weight"])
    assert not torch.equal(before["data_bn.running_mean"], after["data_bn.running_mean"])  # BN trains too
    assert res["history"][-1]["loss"] < res["history"][0]["loss"]
    assert res["num_train"] == len(train_set) and res["num_classes"] == NUM_CLASSES
    cm = np.asarray(res["confusion"])
    assert cm.sum(axis=1).tolist() == np.bincount(test_set.labels, minlength=NUM_CLASSES).tolist()
    assert res["top5"] >= res["top1"]
    assert torch.allclose(res["scores"].sum(1), torch.ones(len(test_set)), atol=1e-5)


def test_semi_supervised_uses_only_the_subset(tiny, tmp_path):
    cfg, ckpt, train_set, test_set = tiny
    idx = labelled_subset(train_set.labels, 0.5, seed=0, out_dir=tmp_path)
    ev = load_eval_encoder(cfg, ckpt)
    res = finetune(ev.encoder, train_set, test_set, ev.stream, cfg.eval, CPU, indices=idx, progress=False)
    assert res["num_train"] == len(idx) == len(train_set) // 2
    with pytest.raises(CPMError, match="at least 2 labelled"):
        finetune(ev.encoder, train_set, test_set, ev.stream, cfg.eval, CPU, indices=idx[:1], progress=False)


def test_from_scratch_is_reproducible(tiny):
    cfg, ckpt, train_set, test_set = tiny
    runs = []
    for _ in range(2):
        ev = load_eval_encoder(cfg, None, random_init=True, seed=4)
        runs.append(finetune(ev.encoder, train_set, test_set, ev.stream, cfg.eval, CPU, seed=4, progress=False))
    assert torch.allclose(runs[0]["scores"], runs[1]["scores"], atol=1e-5)
    # approx on flat lists only: pytest >= 9.2 rejects nested structures (a list of dicts)
    first, second = runs[0]["history"], runs[1]["history"]
    assert [h.keys() for h in first] == [h.keys() for h in second] and len(first) == cfg.eval.finetune_epochs
    for key in first[0]:
        assert [h[key] for h in first] == pytest.approx([h[key] for h in second]), key


def test_finetune_with_batch_augment(tiny):
    cfg, ckpt, train_set, test_set = tiny
    augment = load_augment(True, cfg.data.augment)
    assert load_augment(False, cfg.data.augment) is None
    ev = load_eval_encoder(cfg, ckpt)
    ecfg = replace(cfg.eval, finetune_epochs=1)
    res = finetune(ev.encoder, train_set, test_set, ev.stream, ecfg, CPU, augment=augment, progress=False)
    assert np.isfinite(res["history"][0]["loss"])
