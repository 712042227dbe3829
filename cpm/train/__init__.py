"""Pretraining: LARS, warmup + cosine schedule, atomic checkpoints with exact resume, logging, DDP.

Entry point: ``cpm.pretrain(cfg, out_dir=None, resume=None, force=False)`` (it hands the trainer the kNN
classifier of ``cpm.eval``: training never imports the evaluation package); CLI ``cpm-pretrain``.
"""
from cpm.train.lars import LARS, param_groups
from cpm.train.schedule import warmup_cosine

__all__ = ["LARS", "param_groups", "warmup_cosine"]
