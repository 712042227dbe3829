"""Section 4: linear evaluation with cached features (`cpm.eval.linear.train_linear`) against re-encoding every
clip every epoch (`train_linear_uncached`, the lineage's way), for the protocol's epoch count.

The frozen encoder gives the same features every epoch, so one re-encoding epoch costs the same as any other:
the uncached path is timed over `opts.uncached_epochs` epochs and scaled to `opts.eval_epochs` (the JSON keeps
both). The cached path is timed in full: one feature pass plus every classifier epoch. The test-split pass is
the same for both paths and left out.
"""
from __future__ import annotations

import time
from dataclasses import replace

import torch

from cpm.bench.timing import sync
from cpm.data.dataset import build_dataset
from cpm.runtime.features import extract_features
from cpm.eval.linear import train_linear, train_linear_uncached
from cpm.models import build_encoder


def linear_eval_speed(cfg, opts, split: str = "probe") -> dict:
    device = opts.device
    torch.manual_seed(0)
    encoder = build_encoder(cfg).to(device).eval().requires_grad_(False)
    dataset = build_dataset(replace(cfg.data, train_split=split), "train")
    ecfg = replace(cfg.eval, linear_epochs=opts.eval_epochs)
    workers, stream = cfg.data.num_workers, cfg.data.stream
    classes = dataset.num_classes

    t0 = time.perf_counter()
    feats, labels = extract_features(encoder, dataset, stream, device, batch_size=ecfg.batch_size,
                                     num_workers=workers, progress=False)
    sync(device)
    t1 = time.perf_counter()
    train_linear(feats, labels, classes, ecfg, progress=False)
    sync(device)
    t2 = time.perf_counter()
    cached = t2 - t0

    short = replace(ecfg, linear_epochs=opts.uncached_epochs)
    t3 = time.perf_counter()
    train_linear_uncached(encoder, dataset, stream, classes, short, device, num_workers=workers, progress=False)
    sync(device)
    per_epoch = (time.perf_counter() - t3) / opts.uncached_epochs
    uncached = per_epoch * opts.eval_epochs
    return {"samples": len(dataset), "epochs": opts.eval_epochs, "batch": ecfg.batch_size,
            "cached_s": cached, "cached_feature_pass_s": t1 - t0, "cached_classifier_s": t2 - t1,
            "uncached_epoch_s": per_epoch, "uncached_epochs_timed": opts.uncached_epochs,
            "uncached_s": uncached, "ratio": uncached / cached, "target": 20.0, "met": uncached / cached >= 20.0}
