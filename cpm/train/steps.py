"""One training step and the pieces around it: seeded loaders, optimizer, on-device views."""
from __future__ import annotations

import typing
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from cpm.config.schema import OptimName
from cpm.data.streams import to_stream
from cpm.errors import CPMError
from cpm.runtime.checkpoint import unwrap
from cpm.runtime.device import Precision, autocast
from cpm.runtime.features import make_loader
from cpm.train.lars import LARS, param_groups
from cpm.train.schedule import set_lr

# per-step scalars returned by the model (besides the loss) that the trainer logs
MONITORED = ("top1_sim", "emb_std", "mining_precision", "self_mass")
# monitors that are nan when they cannot be measured (no labels / no sample ids): averaged over finite steps
OPTIONAL = ("mining_precision", "self_mass")


def seeded_loader(dataset, batch_size: int, cfg, device: torch.device, sampler=None,
                  drop_last: bool = False, persistent: bool = False) -> DataLoader:
    """The trainer's DataLoaders, with a private generator: worker seeding stays off the global RNG that
    on-device augmentation replays on resume (the trainer reseeds it per epoch). Workers that augment per
    sample must not be `persistent`: started afresh every epoch, their draws are a function of (seed, epoch)."""
    return make_loader(dataset, batch_size, cfg.data.num_workers, device, sampler, drop_last=drop_last,
                       generator=torch.Generator().manual_seed(cfg.train.seed), persistent=persistent)


def build_optimizer(model: nn.Module, optim_cfg) -> torch.optim.Optimizer:
    """LARS (paper) with biases/norm parameters excluded, or SGD with weight decay on all (AimCLR lineage). With
    `optim.fix_predictor_lr` the predictor's parameters get groups of their own that `set_lr` keeps at optim.lr."""
    fixed = list(model.predictor.parameters()) if optim_cfg.fix_predictor_lr else []
    if optim_cfg.name == "lars":
        groups = param_groups(model, optim_cfg.weight_decay, skip=fixed)
        if fixed:
            groups += [dict(g, fixed_lr=optim_cfg.lr) for g in param_groups(model.predictor, optim_cfg.weight_decay)]
        return LARS(groups, lr=optim_cfg.lr, momentum=optim_cfg.momentum, weight_decay=optim_cfg.weight_decay,
                    eta=optim_cfg.trust_coefficient)
    if optim_cfg.name == "sgd":
        skip = {id(p) for p in fixed}
        groups = [dict(params=[p for p in model.parameters() if id(p) not in skip])]
        groups += [dict(params=fixed, fixed_lr=optim_cfg.lr)] if fixed else []
        return torch.optim.SGD(groups, lr=optim_cfg.lr, momentum=optim_cfg.momentum,
                               weight_decay=optim_cfg.weight_decay)
    raise CPMError(f"config key 'optim.name': expected {'|'.join(typing.get_args(OptimName))}, got '{optim_cfg.name}'")


class TwoViews:
    """Per-sample transform for ``data.augment.on_device=False``: two numpy views stacked (2, C, T, V, M)."""

    def __init__(self, augment):
        self.augment = augment

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self.augment(x), self.augment(x)])


def make_views(x: torch.Tensor, augment, stream: str, layout) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of a joint batch, in the configured stream.

    ``x`` is (N, C, T, V, M) raw joints, augmented here on its device by ``augment`` (BatchAugment), or
    (N, 2, C, T, V, M) views already augmented per sample in the DataLoader workers (``augment`` unused).
    """
    with torch.no_grad():
        if x.dim() == 6:
            return to_stream(x[:, 0], stream, layout), to_stream(x[:, 1], stream, layout)
        return to_stream(augment(x), stream, layout), to_stream(augment(x), stream, layout)


@dataclass(frozen=True)
class StepContext:
    """What every training step of a run uses, built once: the (possibly DDP-wrapped) model, its optimizer and
    loss scaler, the on-device augmentation, the input stream and layout, the device and the precision."""
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    augment: object  # BatchAugment (joint batches), unused when the loader yields views augmented in workers
    stream: str
    layout: object  # cpm.graph.Layout of the training data
    device: torch.device
    precision: Precision


def train_step(ctx: StepContext, batch, lr: float, topk: int, ids: torch.Tensor | None = None,
               average: bool = False, momentum: float | None = None) -> dict[str, torch.Tensor]:
    """Augment, forward, backward, update; returns the model's detached scalars (no host sync).
    `ids` are the batch's training-sample indices (queue self-copy monitor, `loss.exclude_self`); `average`:
    the step adds to the student's weight average (`model.average_last`); `momentum`: this step's EMA momentum."""
    x, y = batch
    x = x.to(ctx.device, non_blocking=True)
    y = y.to(ctx.device, non_blocking=True)
    x1, x2 = make_views(x, ctx.augment, ctx.stream, ctx.layout)
    set_lr(ctx.optimizer, lr)
    with autocast(ctx.device, ctx.precision):
        # labels feed the mining-precision monitor only
        out = ctx.model(x1, x2, topk=topk, labels=y, ids=ids, momentum=momentum)
    ctx.optimizer.zero_grad(set_to_none=True)
    ctx.scaler.scale(out["loss"]).backward()
    ctx.scaler.step(ctx.optimizer)
    ctx.scaler.update()
    with autocast(ctx.device, ctx.precision):
        unwrap(ctx.model).update_average(x1, average)  # no-op unless model.average_last > 0
    return {"loss": out["loss"].detach().float(), **{k: out[k].detach().float() for k in MONITORED if k in out}}
