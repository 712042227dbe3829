"""The notebook API: pretraining, pretrained encoders and embeddings, fine-tuned classifiers and their class scores."""
from __future__ import annotations

import torch

from cpm.config import config_from_dict
from cpm.errors import CPMError
from cpm.models import build_encoder
from cpm.models.stgcn import STGCN
from cpm.runtime.checkpoint import (branch_state, load_checkpoint as read_checkpoint, load_model_state,
                                    unwrap_state)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a cpm checkpoint with `weights_only=True` (it needs 'model' and 'config'); one-line CPMError for
    a missing, truncated or foreign file."""
    return read_checkpoint(path, map_location, required=("model", "config"))


def pretrain(cfg, out_dir=None, resume=None, force: bool = False, stop_after: int | None = None):
    """Pretrain CPM as `cfg` says (see `cpm.train.trainer.pretrain`), the kNN monitor (`eval.knn_every`) scored
    by `cpm.eval.knn.knn_accuracy`; returns the run's `RunResult` (out_dir, checkpoint, metrics, ...)."""
    from cpm.eval.knn import knn_accuracy
    from cpm.train.trainer import pretrain as run_pretraining

    return run_pretraining(cfg, out_dir=out_dir, resume=resume, force=force, stop_after=stop_after,
                           knn=knn_accuracy)


def load_encoder(path, map_location="cpu", branch: str | None = None) -> STGCN:
    """The pretrained ST-GCN encoder of a cpm checkpoint, rebuilt from its stored config, in eval mode. `branch`:
    'student', the EMA 'target' or the student's weight 'average'; None = the run's own eval.encoder."""
    ckpt = load_checkpoint(path, map_location)
    cfg = config_from_dict(ckpt["config"])
    state = branch_state(ckpt["model"], branch or cfg.eval.encoder, f"checkpoint {path}")
    encoder = build_encoder(cfg)
    load_model_state(encoder, state, str(path))
    return encoder.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


@torch.no_grad()
def embed(encoder: torch.nn.Module, x, batch_size: int = 256) -> torch.Tensor:
    """Features (N, hidden_dim) of skeleton clips x (N, C, T, V, M) (tensor or array), in batches, on the
    encoder's device; returns a CPU float tensor. The encoder's train/eval mode is left as it was."""
    x = torch.as_tensor(x, dtype=torch.float32)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        out = [encoder(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(out) if out else torch.empty(0, getattr(encoder, "hidden_dim", 0))


def load_classifier(path, map_location="cpu"):
    """The fine-tuned network (encoder + linear layer) a finetune / semi-supervised run saved as classifier.pt,
    rebuilt from its stored config, in eval mode; `.class_names` holds the run's class names (or None)."""
    from cpm.eval.finetune import Classifier

    ckpt = load_checkpoint(path, map_location)
    if "num_classes" not in ckpt or "stream" not in ckpt:
        raise CPMError(f"checkpoint {path}: not a fine-tuned classifier (no 'num_classes'/'stream'); a pretraining "
                       "checkpoint loads with cpm.load_encoder")
    model = Classifier(build_encoder(config_from_dict(ckpt["config"])), int(ckpt["num_classes"]),
                       stream=str(ckpt["stream"]))
    load_model_state(model, unwrap_state(ckpt["model"]), str(path))
    model.class_names = list(ckpt.get("class_names") or []) or None
    return model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


@torch.no_grad()
def predict(classifier, x, batch_size: int = 256) -> torch.Tensor:
    """Class scores (N, num_classes) (softmax, CPU float) of joint clips x (N, C, T, V, M) (tensor or array),
    in batches on the classifier's device, turned into the stream it was trained on; mode left as it was."""
    from cpm.eval.finetune import class_scores

    x = torch.as_tensor(x, dtype=torch.float32)
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    try:
        out = [class_scores(classifier, x[i:i + batch_size].to(device), classifier.encoder.layout).cpu()
               for i in range(0, len(x), batch_size)]
    finally:
        classifier.train(was_training)
    return torch.cat(out) if out else torch.empty(0, classifier.num_classes)
