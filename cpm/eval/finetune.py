"""Fine-tuning protocols: semi-supervised (Table 2) and full fine-tuning (Table 3).

A linear classifier is appended to the encoder and both are trained with labels (SGD, step decay, all
from `cfg.eval.finetune_*`): on a class-balanced fraction of the training labels (semi-supervised, the
chosen indices saved next to the run), or on all of them. `from_scratch` trains the same network from a
random init, the supervised ST-GCN baseline row. Training augmentation (`cfg.data.augment` through
`cpm.data.transforms.BatchAugment`, on the device) is optional: `cfg.eval.finetune_augment`. The trained
network is kept (`save_classifier`: atomic, `torch.load(weights_only=True)`-readable; `cpm.load_classifier`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset
from tqdm import tqdm

from cpm.data import label_subset, load_subset, save_subset, to_stream
from cpm.errors import CPMError
from cpm.version import __version__
from cpm.eval.features import num_classes_of
from cpm.eval.linear import check_schedule, new_classifier
from cpm.eval.metrics import classification_report
from cpm.runtime.checkpoint import save_checkpoint, unwrap
from cpm.runtime.device import autocast, choose_precision
from cpm.runtime.features import dataset_layout, make_loader

SUBSET_FILE = "label_subset.json"
CLASSIFIER_FILE = "classifier.pt"  # the fine-tuned network, written next to results.json


class Classifier(nn.Module):
    """Encoder followed by a linear layer: (N, C, T, V, M) -> logits (N, num_classes), in the input `stream`
    it was trained on (`class_scores` turns joint clips into that stream first)."""

    def __init__(self, encoder: nn.Module, num_classes: int, seed: int = 0, stream: str = "joint"):
        super().__init__()
        self.encoder, self.stream, self.num_classes = encoder, stream, num_classes
        self.fc = new_classifier(encoder.hidden_dim, num_classes, seed)
        self.class_names: list | None = None  # set by cpm.load_classifier when the run named its classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.encoder(x))


def class_scores(model: Classifier, x: torch.Tensor, layout) -> torch.Tensor:
    """Softmax scores (B, num_classes) float32 of a batch of joint clips already on the model's device."""
    return F.softmax(model(to_stream(x, model.stream, layout)).float(), dim=1)


def save_classifier(model: Classifier, path, model_cfg, class_names=None) -> Path:
    """Write the fine-tuned network atomically as plain data: weights, the config that builds its encoder,
    its class count, input stream and class names (readable with `torch.load(weights_only=True)`)."""
    state = {k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}
    return save_checkpoint({"model": state, "config": model_cfg.to_dict(), "num_classes": int(model.num_classes),
                            "stream": model.stream, "class_names": list(class_names or []),
                            "kind": "classifier", "version": __version__}, path)


def check_fraction(fraction: float) -> float:
    """The label fraction of the semi-supervised protocol must be in (0, 1]."""
    if not isinstance(fraction, (int, float)) or not 0.0 < float(fraction) <= 1.0:
        raise CPMError(f"--fraction: expected a label fraction in (0, 1] such as 0.01 or 0.1, got {fraction}")
    return float(fraction)


def labelled_subset(labels, fraction: float, seed: int, out_dir=None, subset_file=None) -> np.ndarray:
    """Indices of the labelled training samples: read from `subset_file`, or drawn class-balanced
    (`label_subset`) and written to `<out_dir>/label_subset.json` so the run can be reproduced."""
    fraction = check_fraction(fraction)
    if subset_file is not None:
        return load_subset(subset_file, num_samples=len(labels), fraction=fraction)
    indices = label_subset(labels, fraction, seed)
    if out_dir is not None:
        save_subset(Path(out_dir) / SUBSET_FILE, indices, fraction=fraction, seed=seed, num_samples=len(labels))
    return indices


def load_augment(enabled: bool, aug_cfg, coords: int = 3):
    """`BatchAugment(aug_cfg)` when fine-tuning with augmentation (`coords` = 2 for 2-D keypoints), else None."""
    if not enabled:
        return None
    try:
        from cpm.data.transforms import BatchAugment
    except ImportError as err:
        raise CPMError(f"eval.finetune_augment=true needs cpm.data.transforms.BatchAugment ({err}); "
                       f"set eval.finetune_augment=false") from None
    return BatchAugment(aug_cfg, coords=coords)


@torch.no_grad()
def predict_scores(model: Classifier, dataset, device: torch.device, batch_size: int = 256,
                   num_workers: int = 0, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax scores (N, C) and labels (N,) of a dataset on the CPU, model in eval mode (mode restored)."""
    was_training = model.training
    model.eval()
    layout = dataset_layout(dataset)
    scores, labels = [], []
    try:
        for x, y in tqdm(make_loader(dataset, batch_size, num_workers, device), desc="test", leave=False,
                         disable=not progress, dynamic_ncols=True):
            scores.append(class_scores(model, x.to(device, non_blocking=True), layout).cpu())
            labels.append(torch.as_tensor(y, dtype=torch.int64))
    finally:
        model.train(was_training)
    return torch.cat(scores), torch.cat(labels)


def finetune(encoder: nn.Module, train_set, test_set, stream: str, ecfg, device: torch.device, *,
             indices=None, augment=None, seed: int = 0, amp: str = "off", num_workers: int = 0,
             progress: bool = True) -> dict:
    """Train encoder + linear classifier on `train_set` (restricted to `indices` if given); score `test_set`.

    Returns the classification report (top1, top5, per_class, confusion) plus `scores`, `labels`,
    `history` (per-epoch loss and training accuracy), `num_classes`, `num_train` and the trained `model`.
    """
    check_schedule(ecfg.finetune_epochs, ecfg.finetune_lr, ecfg.batch_size, ecfg.finetune_milestones, "finetune")
    labelled = train_set if indices is None else Subset(train_set, [int(i) for i in indices])
    n = len(labelled)
    if n < 2:
        raise CPMError(f"fine-tuning needs at least 2 labelled training samples (BatchNorm), got {n}")
    num_classes = num_classes_of(train_set, test_set)
    layout = dataset_layout(train_set)
    model = Classifier(encoder, num_classes, seed, stream).to(device)
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.SGD(model.parameters(), lr=ecfg.finetune_lr, momentum=ecfg.finetune_momentum,
                          weight_decay=ecfg.finetune_weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(ecfg.finetune_milestones), gamma=0.1)
    precision = choose_precision(amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.scaled)
    gen = torch.Generator().manual_seed(seed)
    # dropout and BatchAugment draw from torch's global RNG: seed it inside a fork so runs are reproducible
    # and the caller's RNG stream is left untouched
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        history = _train(model, labelled, layout, stream, ecfg, opt, sched, scaler, precision, gen, augment,
                         device, num_workers, progress)
    scores, labels = predict_scores(model, test_set, device, ecfg.batch_size, num_workers, progress)
    return {**classification_report(scores, labels), "scores": scores, "labels": labels, "history": history,
            "num_classes": num_classes, "num_train": n, "model": model}


def _train(model, labelled, layout, stream, ecfg, opt, sched, scaler, precision, gen, augment, device,
           num_workers, progress) -> list:
    """The epoch loop of `finetune`; returns the per-epoch history."""
    n = len(labelled)
    # drop a last batch of 1 (BatchNorm in train mode cannot normalise a single clip)
    drop_last = n % ecfg.batch_size == 1
    history = []
    steps = n // ecfg.batch_size if drop_last else -(-n // ecfg.batch_size)
    bar = tqdm(total=ecfg.finetune_epochs * steps, desc="fine-tune", disable=not progress, dynamic_ncols=True)
    for epoch in range(ecfg.finetune_epochs):
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        order = torch.randperm(n, generator=gen).tolist()
        for x, y in make_loader(labelled, ecfg.batch_size, num_workers, device, sampler=order, drop_last=drop_last):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.no_grad():
                x = to_stream(augment(x) if augment is not None else x, stream, layout)
            with autocast(device, precision):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            loss_sum += loss.detach() * y.numel()
            correct += (logits.detach().argmax(dim=1) == y).sum()
            seen += y.numel()
            bar.update(1)
        sched.step()
        rec = {"epoch": epoch + 1, "loss": loss_sum.item() / seen, "train_top1": 100.0 * correct.item() / seen}
        if not np.isfinite(rec["loss"]):
            raise CPMError(f"fine-tuning diverged at epoch {epoch + 1} (loss {rec['loss']}); "
                           f"lower eval.finetune_lr (now {ecfg.finetune_lr})")
        history.append(rec)
        bar.set_postfix(epoch=epoch + 1, loss=f"{rec['loss']:.4f}", acc=f"{rec['train_top1']:.1f}")
    bar.close()
    return history
