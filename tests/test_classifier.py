"""Fine-tuned networks are kept (classifier.pt), reload with cpm.load_classifier and reproduce their results."""
import json

import numpy as np
import pytest
import torch

import cpm
from cpm.config import load_config
from cpm.data import build_dataset
from cpm.errors import CPMError
from cpm.cli.evaluate import finetune_main, semi_main
from cpm.eval.metrics import classification_report
from eval_fixtures import tiny_setup

FAST = ["--no-progress", "--device", "cpu"]


@pytest.mark.parametrize("protocol", ["finetune", "semi"])
def test_fine_tuned_weights_reload_and_reproduce_the_test_accuracy(tmp_path, protocol):
    cfg_path, ckpt, _ = tiny_setup(tmp_path, "bone")  # bone: predict must turn joints into the trained stream
    out = tmp_path / protocol
    args = ["--config", str(cfg_path), "--checkpoint", str(ckpt), *FAST, "--out", str(out)]
    main = finetune_main if protocol == "finetune" else semi_main
    assert main(args + (["--fraction", "0.5"] if protocol == "semi" else [])) == 0
    rec = json.loads((out / "results.json").read_text())
    assert rec["classifier"] == str(out / "classifier.pt")
    raw = torch.load(out / "classifier.pt", weights_only=True)  # plain data only
    assert raw["stream"] == "bone" and raw["num_classes"] == 4 and raw["kind"] == "classifier"
    clf = cpm.load_classifier(out / "classifier.pt")
    assert not clf.training and clf.stream == "bone" and clf.class_names is None
    test = build_dataset(load_config(cfg_path).data, "test")
    x = torch.stack([test[i][0] for i in range(len(test))])
    scores = cpm.predict(clf, x.numpy(), batch_size=5)
    assert scores.shape == (len(test), 4) and torch.allclose(scores.sum(1), torch.ones(len(test)), atol=1e-5)
    assert classification_report(scores, torch.as_tensor(test.labels))["top1"] == rec["metrics"]["top1"]
    saved = torch.from_numpy(np.load(out / "scores.npy"))
    assert torch.equal(scores.argmax(1), saved.argmax(1)) and torch.allclose(scores, saved, atol=1e-5)
    assert not (out / "classifier.pt.tmp").exists() and not list(out.glob(".classifier.pt.*"))  # atomic write


def test_load_classifier_refuses_a_pretraining_checkpoint_and_predict_keeps_the_mode(tmp_path):
    cfg_path, ckpt, _ = tiny_setup(tmp_path)
    with pytest.raises(CPMError, match="not a fine-tuned classifier.*cpm.load_encoder"):
        cpm.load_classifier(ckpt)
    from cpm.eval.finetune import Classifier

    clf = Classifier(cpm.build_encoder(load_config(cfg_path)), 3).train()
    assert cpm.predict(clf, torch.zeros(2, 3, 16, 25, 2)).shape == (2, 3) and clf.training
