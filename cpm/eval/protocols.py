"""Frozen-encoder protocols as library calls: the kNN protocol (`knn_eval`, what cpm-knn-eval runs), all the
probes in one call (`probe_encoder`, for notebooks and experiments) and kNN on the input clips themselves
(`input_probes`, the baselines no encoder is needed for)."""
from __future__ import annotations

import torch
from torch import nn

from cpm.data import build_dataset
from cpm.diagnostics import effective_rank, feature_spread
from cpm.eval.features import load_eval_encoder, num_classes_of
from cpm.eval.knn import knn_accuracy, knn_scores
from cpm.eval.linear import class_scores, standardized_top1, train_linear, verify_frozen
from cpm.eval.metrics import classification_report
from cpm.runtime.features import extract_features


def knn_eval(ev, train_set, test_set, ecfg, device: torch.device, num_workers: int = 0,
             progress: bool = True) -> dict:
    """Weighted cosine kNN (`ecfg.knn_k`, `ecfg.knn_t`) of an `EvalEncoder`'s frozen features: the classification
    report (top1, top5, per_class, confusion) plus `scores` (N_test, C), `labels`, `num_classes`, `num_train`;
    the encoder is checked to be unchanged afterwards."""
    kw = dict(device=device, batch_size=ecfg.batch_size, num_workers=num_workers, progress=progress)
    ftr, ytr = extract_features(ev.encoder, train_set, ev.stream, desc="train features", **kw)
    fte, yte = extract_features(ev.encoder, test_set, ev.stream, desc="test features", **kw)
    verify_frozen(ev.encoder, ev.reference, ev.source)
    num_classes = num_classes_of(train_set, test_set)
    scores = knn_scores(ftr, ytr, fte, k=ecfg.knn_k, t=ecfg.knn_t, num_classes=num_classes).cpu()
    return {**classification_report(scores, yte.cpu()), "scores": scores, "labels": yte.cpu(),
            "num_classes": num_classes, "num_train": len(train_set)}


def split_features(cfg, encoder: nn.Module, stream: str, device: str | torch.device = "cpu", sets=None):
    """(train features, train labels, test features, test labels, number of classes) of `encoder` on the
    train/test splits of `cfg.data` (no augmentation, batches of eval.batch_size), or on `sets` = (train, test)
    datasets already built from it."""
    train, test = sets or (build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test"))
    kw = dict(device=torch.device(device), batch_size=cfg.eval.batch_size, progress=False)
    ftr, ytr = extract_features(encoder, train, stream, **kw)
    fte, yte = extract_features(encoder, test, stream, **kw)
    return ftr, ytr, fte, yte, num_classes_of(train, test)


def probe_encoder(cfg, checkpoint=None, seed: int = 0, device: str | torch.device = "cpu") -> dict:
    """kNN (eval.knn_k, eval.knn_t), the lineage linear probe and the standardised one (top-1 %), and the
    test features' spread and effective rank, for the encoder of `checkpoint` (None = random init, seeded)
    on the train/test splits of `cfg.data`."""
    ev = load_eval_encoder(cfg, checkpoint, checkpoint is None, seed)
    ftr, ytr, fte, yte, n = split_features(cfg, ev.encoder, ev.stream, device)
    e = cfg.eval
    fc, _ = train_linear(ftr, ytr, n, e, seed, progress=False)
    return {"knn": knn_accuracy(ftr, ytr, fte, yte, k=e.knn_k, t=e.knn_t, num_classes=n),
            "linear": classification_report(class_scores(fc, fte), yte.cpu())["top1"],
            "linear_std": standardized_top1(ftr, ytr, fte, yte, n, e, seed),
            "test_spread": feature_spread(fte), "test_rank": effective_rank(fte)}


def input_probes(cfg, seed: int = 0, device: str | torch.device = "cpu", sets=None) -> dict:
    """kNN (eval.knn_k, eval.knn_t) and the standardised linear probe (top-1 %) on the clips themselves,
    flattened as the encoder receives them (data.normalize, data.stream, num_frames; no augmentation), on the
    train/test splits of `cfg.data`: what a pretrained encoder has to beat to have learnt more than the input
    already holds ("knn", "linear_std"); `sets`: as in `split_features`."""
    ftr, ytr, fte, yte, n = split_features(cfg, nn.Flatten(), cfg.data.stream, device, sets)
    e = cfg.eval
    return {"knn": knn_accuracy(ftr, ytr, fte, yte, k=e.knn_k, t=e.knn_t, num_classes=n),
            "linear_std": standardized_top1(ftr, ytr, fte, yte, n, e, seed)}
