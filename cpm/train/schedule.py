"""Learning-rate schedule: linear warmup then cosine decay, a pure function of the global step.

Paper 4.2: "starts at 0 and is linearly increased to 0.5 in the first 10 epochs of training and then
decreased to 0.0005 by a cosine decay schedule", updated every iteration. Keeping it a pure function of
the step counter (stored in the checkpoint) makes resume exact with no scheduler object to restore.
"""
from __future__ import annotations

import math

import torch

from cpm.errors import CPMError


def warmup_cosine(step: int, *, base_lr: float, final_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Learning rate at global iteration ``step`` (0-based).

    ``lr = base_lr * step / warmup_steps`` for ``step < warmup_steps`` (so step 0 has lr 0), then
    ``final_lr + (base_lr - final_lr) * (1 + cos(pi * s / S)) / 2`` with ``s = step - warmup_steps`` and
    ``S = total_steps - warmup_steps``; it reaches ``final_lr`` at ``step == total_steps`` and stays there.
    """
    if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
        raise CPMError(f"schedule: need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}), "
                       f"total_steps > 0")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    decay_steps = total_steps - warmup_steps
    if decay_steps == 0:
        return final_lr
    progress = min(step - warmup_steps, decay_steps) / decay_steps
    return final_lr + (base_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def target_momentum(step: int, *, base: float, total_steps: int, schedule: str = "constant") -> float:
    """EMA momentum at global iteration ``step``: ``base`` (constant), or BYOL's cosine rise to 1 (Sec. 3.2)
    ``1 - (1 - base) * (1 + cos(pi * k / K)) / 2`` with ``k = min(step, K)``, ``K = total_steps``."""
    if schedule == "constant":
        return base
    if schedule != "cosine" or total_steps <= 0:
        raise CPMError(f"target momentum schedule: expected constant|cosine and total_steps > 0, got "
                       f"'{schedule}', {total_steps}")
    return 1.0 - (1.0 - base) * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Write ``lr`` into every param group (groups may carry their own ``lr_scale``, default 1); groups with a
    ``fixed_lr`` (SimSiam's fixed predictor lr) keep it."""
    for group in optimizer.param_groups:
        group["lr"] = group["fixed_lr"] if "fixed_lr" in group else lr * group.get("lr_scale", 1.0)


def schedule_state(step: int, **kwargs) -> dict:
    """Plain-data description of the schedule stored in checkpoints (resume needs only ``step``)."""
    return {"name": "warmup_cosine", "step": int(step), **{k: v for k, v in kwargs.items()}}


def average_start(epochs: int, average_last: float) -> int:
    """First epoch of the student's weight average: the last ``average_last`` share of ``epochs`` (rounded), at
    least one epoch when the share is > 0; ``epochs`` (never) when it is 0."""
    return epochs - (max(1, round(average_last * epochs)) if average_last > 0 else 0)
