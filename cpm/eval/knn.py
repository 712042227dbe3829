"""Weighted cosine kNN classifier on frozen features (Wu et al. 2018, "Instance Discrimination").

Each test sample votes with its ``k`` most cosine-similar training samples, a neighbour with
similarity ``s`` contributing ``exp(s / t)`` to its class; the prediction is the class with most weight.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from cpm.errors import CPMError


def knn_scores(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
               k: int = 20, t: float = 0.1, num_classes: int | None = None,
               chunk_size: int = 1024) -> torch.Tensor:
    """Class scores ``(N_test, num_classes)``; rows sum to 1 (weights normalised per test sample)."""
    if train_feats.ndim != 2 or test_feats.ndim != 2 or train_feats.shape[1] != test_feats.shape[1]:
        raise CPMError(f"knn: features must be (N, D) with equal D; got train {tuple(train_feats.shape)}, "
                       f"test {tuple(test_feats.shape)}")
    if train_labels.shape != (train_feats.shape[0],):
        raise CPMError(f"knn: train_labels shape {tuple(train_labels.shape)}, expected ({train_feats.shape[0]},)")
    if k < 1 or t <= 0:
        raise CPMError(f"knn: need k >= 1 and t > 0, got k={k}, t={t}")
    train_labels = train_labels.long().to(train_feats.device)
    if num_classes is None:
        num_classes = int(train_labels.max()) + 1
    k = min(k, train_feats.shape[0])
    train = F.normalize(train_feats.float(), dim=1)
    out = []
    for start in range(0, test_feats.shape[0], chunk_size):  # bounds the (chunk, N_train) matrix
        test = F.normalize(test_feats[start:start + chunk_size].float().to(train.device), dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)
        weights = (sim / t).exp()
        scores = torch.zeros(test.shape[0], num_classes, device=train.device)
        scores.scatter_add_(1, train_labels[idx], weights)
        out.append(scores / scores.sum(dim=1, keepdim=True))
    return torch.cat(out) if out else torch.zeros(0, num_classes, device=train.device)


def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                k: int = 20, t: float = 0.1, num_classes: int | None = None) -> torch.Tensor:
    """Predicted class ``(N_test,)`` int64 for each test feature."""
    return knn_scores(train_feats, train_labels, test_feats, k, t, num_classes).argmax(dim=1)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 20, t: float = 0.1,
                 num_classes: int | None = None) -> float:
    """Top-1 kNN accuracy in percent."""
    pred = knn_predict(train_feats, train_labels, test_feats, k, t, num_classes)
    return 100.0 * (pred.cpu() == test_labels.long().cpu()).float().mean().item()
