"""Classification metrics shared by every protocol: top-k accuracy, confusion matrix, per-class accuracy.

Pure functions on torch tensors or numpy arrays; accuracies are in percent.
"""
from __future__ import annotations

import numpy as np
import torch

from cpm.errors import CPMError


def _as_tensor(x, dtype=None) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype).cpu()


def _check(scores: torch.Tensor, labels: torch.Tensor) -> None:
    if scores.ndim != 2 or labels.ndim != 1 or scores.shape[0] != labels.shape[0]:
        raise CPMError(f"metrics: expected scores (N, C) and labels (N,), got {tuple(scores.shape)} "
                       f"and {tuple(labels.shape)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise CPMError(f"metrics: labels must be in [0, {scores.shape[1]}), found "
                       f"[{int(labels.min())}, {int(labels.max())}]")


def topk_accuracy(scores, labels, k: int = 1) -> float:
    """Percentage of rows whose true class is among the k highest scores (k is capped at C)."""
    scores, labels = _as_tensor(scores).float(), _as_tensor(labels, torch.int64)
    _check(scores, labels)
    if labels.numel() == 0:
        return float("nan")
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return 100.0 * (top == labels[:, None]).any(dim=1).float().mean().item()


def confusion_matrix(pred, labels, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts, row = true class, column = predicted class; row sums are the class counts."""
    pred, labels = _as_tensor(pred, torch.int64), _as_tensor(labels, torch.int64)
    flat = labels * num_classes + pred
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes).numpy()


def per_class_accuracy(cm: np.ndarray) -> list:
    """Recall of each class in percent (None for a class absent from the labels)."""
    totals = cm.sum(axis=1)
    return [None if n == 0 else 100.0 * float(cm[c, c]) / float(n) for c, n in enumerate(totals)]


def classification_report(scores, labels) -> dict:
    """top1, top5, per_class (list) and confusion (list of lists) of class scores (N, C) against labels."""
    scores, labels = _as_tensor(scores).float(), _as_tensor(labels, torch.int64)
    _check(scores, labels)
    cm = confusion_matrix(scores.argmax(dim=1), labels, scores.shape[1])
    return {"top1": topk_accuracy(scores, labels, 1), "top5": topk_accuracy(scores, labels, 5),
            "per_class": per_class_accuracy(cm), "confusion": cm.tolist(), "num_test": int(labels.numel())}


def per_class_table(per_class: list, confusion, class_names: list | None = None) -> str:
    """Markdown table: label, name (when known), test clips, top-1 % and the most frequent wrong prediction."""
    cm = np.asarray(confusion)
    names = class_names if class_names is not None else [None] * len(per_class)
    head = "| label | class | test clips | top-1 % | most confused with |\n|---:|---|---:|---:|---|\n"
    rows = []
    for c, acc in enumerate(per_class):
        wrong = cm[c].copy()
        wrong[c] = 0
        other = int(wrong.argmax()) if wrong.any() else None
        confused = "" if other is None else f"{names[other] or other} ({int(wrong[other])})"
        rows.append(f"| {c} | {names[c] or ''} | {int(cm[c].sum())} | {'-' if acc is None else f'{acc:.1f}'} "
                    f"| {confused} |")
    return head + "\n".join(rows) + "\n"
