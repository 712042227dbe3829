"""BatchNorm statistics re-estimated before evaluation (PreciseBN: Wu & Johnson 2021, "Rethinking 'Batch' in
BatchNorm", Sec. 3; pycls / Detectron2 run it before every evaluation).

Training normalises with batch statistics; evaluation reads the running statistics, an EMA (momentum 0.1) that
remembers the last ~10 forward passes, i.e. ~5 training steps of two views each. Which 5 steps a checkpoint ends on
moves the features: on MSR Action3D's held-out performers the kNN moves by ~1.5 points (std) with 5 more steps
of statistics and frozen weights (docs/learning.md 2v). An equal-weight average over many augmented training
batches removes that noise without shifting the statistics away from the augmented data the encoder trained on.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from cpm.data.transforms import BatchAugment
from cpm.data.streams import to_stream
from cpm.runtime.device import Precision, autocast
from cpm.runtime.features import make_loader


def batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of `module` that keep running statistics."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_bn_stats(module: nn.Module, batches: Iterable[torch.Tensor], precision: Precision | None = None) -> int:
    """Replace the running mean/var of every BatchNorm in `module` by their plain average over `batches` (inputs
    of `module`); only BN layers run in train mode (dropout stays off), nothing else changes. Returns the number
    of batches seen (0 leaves the statistics untouched)."""
    bns = batchnorms(module)
    modes = {m: m.training for m in module.modules()}
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: each batch weighs the same
    module.eval()
    for m in bns:
        m.train()
    seen = 0
    try:
        for x in batches:
            if precision is None:
                module(x)
            else:
                with autocast(x.device, precision):
                    module(x)
            seen += 1
    finally:
        for m, (momentum, mean, var, count) in zip(bns, saved):
            m.momentum = momentum
            if seen == 0:  # nothing to average: keep what was there
                m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(count)
        for m, mode in modes.items():
            m.train(mode)
    return seen


class PreciseBN:
    """`eval.precise_bn` batches of the training set, two augmented views each (the student's passes in a
    training step), fed through an encoder by `recompute_bn_stats`. Draws come from private generators seeded by
    (train.seed, epoch): the training run's own random streams are untouched, so it stays bit for bit the same."""

    def __init__(self, cfg, dataset, batch_size: int, device: torch.device, precision: Precision, coords: int):
        self.cfg, self.dataset, self.batch_size = cfg, dataset.without_transform(), batch_size
        self.device, self.precision, self.layout = device, precision, dataset.layout
        self.coords = coords

    def _views(self, epoch: int):
        seed = self.cfg.train.seed * 1_000_003 + epoch
        augment = BatchAugment(self.cfg.data.augment, generator=torch.Generator().manual_seed(seed),
                               coords=self.coords)
        loader = make_loader(self.dataset, self.batch_size, 0, self.device, shuffle=True, drop_last=True,
                             generator=torch.Generator().manual_seed(seed))
        left = self.cfg.eval.precise_bn if len(loader) else 0
        while left > 0:
            for x, _ in loader:
                x = x.to(self.device, non_blocking=True)
                for _ in range(2):
                    yield to_stream(augment(x), self.cfg.data.stream, self.layout)
                left -= 1
                if left == 0:
                    return

    def __call__(self, encoder: nn.Module, epoch: int) -> int:
        """Re-estimate `encoder`'s BN statistics in place; returns the number of view batches averaged."""
        return recompute_bn_stats(encoder, self._views(epoch), self.precision)
