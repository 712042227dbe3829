"""Pretraining: LARS, warmup + cosine schedule, atomic checkpoints with exact resume, logging, DDP.

Entry point: ``cpm.train.pretrain(cfg, out_dir=None, resume=None, force=False)``; CLI ``cpm-pretrain``.
"""
from cpm.train.lars import LARS, param_groups
from cpm.train.schedule import warmup_cosine


def pretrain(cfg, out_dir=None, resume=None, force=False, stop_after=None):
    """See :func:`cpm.train.trainer.pretrain` (imported lazily: it needs the data package)."""
    from cpm.train.trainer import pretrain as _pretrain

    return _pretrain(cfg, out_dir=out_dir, resume=resume, force=force, stop_after=stop_after)


__all__ = ["LARS", "param_groups", "pretrain", "warmup_cosine"]
