"""What the trainer watches: running step scalars, the kNN probe, and the non-finite-loss stop."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from cpm.data import build_dataset
from cpm.diagnostics import effective_rank, feature_spread
from cpm.errors import CPMError
from cpm.runtime.checkpoint import BRANCH_MODULE, unwrap
from cpm.runtime.device import Precision
from cpm.runtime.features import encode_loader
from cpm.train import distributed as dist
from cpm.train.steps import OPTIONAL, seeded_loader

# (train_feats, train_labels, test_feats, test_labels, k=, t=, num_classes=) -> top-1 %: the kNN classifier the
# caller hands the trainer (cpm.eval.knn.knn_accuracy), so training never imports the evaluation package
KnnFn = Callable[..., float]

NO_BAD_STEP = 2**62  # "no non-finite loss seen yet" in the running minimum of bad steps


class StepStats:
    """Running sums of the step scalars on the device, read (one host sync) only when asked."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, torch.Tensor] = {}

    def add(self, scalars: dict[str, torch.Tensor]) -> None:
        for k, v in scalars.items():
            ok = torch.isfinite(v) if k in OPTIONAL else torch.ones((), dtype=torch.bool, device=v.device)
            # the loss is summed even when non-finite, so a NaN shows up in the mean
            self.sums[k] = self.sums.get(k, 0) + torch.where(ok, v, torch.zeros_like(v))
            self.counts[k] = self.counts.get(k, 0) + ok.float()

    def means(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = sorted(self.sums)
        packed = torch.stack([torch.stack([self.sums[k], self.counts[k]]) for k in keys])
        if dist.is_dist():
            torch.distributed.all_reduce(packed)
        packed = packed.cpu()
        return {k: (s / c).item() if c > 0 else float("nan") for k, (s, c) in zip(keys, packed)}


class KnnMonitor:
    """kNN top-1 (%) on the test split from frozen encoder features, scored by `knn`: {"knn_top1": the encoder
    eval.encoder names}, plus "knn_student_top1" when that is not the student (the curve it is compared with);
    datasets are built on first use."""

    def __init__(self, cfg, device: torch.device, precision: Precision, knn: KnnFn):
        self.cfg, self.device, self.precision, self.knn = cfg, device, precision, knn
        self.loaders = None

    def __call__(self, model) -> dict[str, float]:
        cfg = self.cfg
        if self.loaders is None:
            sets = [build_dataset(cfg.data, split) for split in ("train", "test")]
            self.layout = sets[0].layout
            self.num_classes = max(s.num_classes for s in sets)
            self.loaders = [seeded_loader(s, cfg.eval.batch_size, cfg, self.device) for s in sets]
        out = {"knn_top1": self._score(getattr(unwrap(model), BRANCH_MODULE[cfg.eval.encoder]))}
        if cfg.eval.encoder != "student":
            out["knn_student_top1"] = self._score(unwrap(model).encoder)
        return out

    def _score(self, encoder) -> float:
        cfg = self.cfg
        (ftr, ytr), (fte, yte) = (encode_loader(encoder, ld, cfg.data.stream, self.layout, self.device,
                                                self.precision) for ld in self.loaders)
        return self.knn(ftr, ytr, fte, yte, k=cfg.eval.knn_k, t=cfg.eval.knn_t, num_classes=self.num_classes)


class PooledFeatures(nn.Module):
    """The encoder's features before `model.output_bn`, which would scale a collapsed encoder's tiny differences
    between clips back to unit variance and hide the collapse from the check."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.pooled(x)


class FeatureProbe:
    """Spread and effective rank of the encoder's features on a fixed set of training clips (no augmentation):
    the per-epoch collapse check (cpm.diagnostics)."""

    def __init__(self, cfg, dataset, device: torch.device, precision: Precision, clips: int = 512):
        from torch.utils.data import Subset

        self.cfg, self.device, self.precision, self.layout = cfg, device, precision, dataset.layout
        probe = Subset(dataset.without_transform(), range(min(clips, len(dataset))))
        self.loader = seeded_loader(probe, cfg.eval.batch_size, cfg, device)

    def __call__(self, model) -> dict[str, float]:
        feats, _ = encode_loader(PooledFeatures(unwrap(model).encoder), self.loader, self.cfg.data.stream,
                                 self.layout, self.device, self.precision)
        return {"feat_spread": feature_spread(feats), "feat_rank": effective_rank(feats)}


def track_bad_step(bad_step: torch.Tensor, loss: torch.Tensor, step: int) -> torch.Tensor:
    """Running minimum of the (1-based) steps whose loss was not finite; stays on the device (no sync)."""
    return torch.where(torch.isfinite(loss), bad_step, bad_step.clamp(max=step))


def check_finite(loss_mean: float, bad_step: torch.Tensor, epoch: int, last: Path) -> None:
    """Stop the run with a one-line error naming epoch and step when the loss went NaN/inf."""
    if math.isfinite(loss_mean):
        return
    if dist.is_dist():
        torch.distributed.all_reduce(bad_step, op=torch.distributed.ReduceOp.MIN)
    step = int(bad_step.item())
    where = f"step {step}" if step != NO_BAD_STEP else "a step"
    kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
    raise CPMError(f"non-finite loss ({loss_mean}) at epoch {epoch + 1}, {where} (global iteration, 1-based); "
                   f"stopping, {kept} (try a lower optim.lr or train.amp=off)")
