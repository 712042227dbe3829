"""The pretraining loop (paper Sec. 3.4, 4.2): stage 1 = Eq. 4 for epochs [0, pe_start_epoch), stage 2 = Eq. 8.

``pretrain(cfg)`` runs on one device or under ``torchrun`` (DDP); it writes into the run folder
``config.yaml``, ``last.pt`` (every epoch), ``epoch_XXXX.pt`` (every ``train.save_every``),
``metrics.jsonl`` and TensorBoard events in ``tb/`` (rank 0 only).
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from cpm.data import build_dataset
from cpm.data.dataset import coord_dims
from cpm.data.transforms import BatchAugment, NumpyAugment
from cpm.errors import CPMError
from cpm.models import build_model
from cpm.runtime import checkpoint as ck
from cpm.runtime.checkpoint import BRANCH_MODULE, unwrap
from cpm.runtime.device import choose_precision
from cpm.runtime.host_memory import keep_freed_memory
from cpm.train import distributed as dist
from cpm.train import runstate
from cpm.runtime.metrics_file import METRICS_FILE
from cpm.train.logger import RunLogger
from cpm.diagnostics import collapse_warning
from cpm.train.precise_bn import PreciseBN
from cpm.train.monitor import NO_BAD_STEP, FeatureProbe, KnnFn, KnnMonitor, StepStats, check_finite, track_bad_step
from cpm.train.schedule import average_start, schedule_state, target_momentum, warmup_cosine
from cpm.train.steps import StepContext, TwoViews, build_optimizer, seeded_loader, train_step


@dataclass
class RunResult:
    """Where a run left its outputs."""
    out_dir: Path
    checkpoint: Path
    tb_dir: Path
    metrics: Path
    epoch: int
    step: int


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pretrain(cfg, out_dir: str | Path | None = None, resume: str | None = None, force: bool = False,
             stop_after: int | None = None, knn: KnnFn | None = None) -> RunResult:
    """Pretrain CPM as configured; ``resume`` = None | "auto" | checkpoint path; ``force`` overwrites another
    run in ``out_dir``; ``stop_after`` ends this call after that many epochs (the schedule still spans
    ``train.epochs``, a later ``resume`` continues it); ``knn`` scores the kNN monitor (``eval.knn_every``):
    ``cpm.pretrain`` passes ``cpm.eval.knn.knn_accuracy``."""
    if cfg.eval.knn_every > 0 and knn is None:
        raise CPMError(f"config key 'eval.knn_every': {cfg.eval.knn_every} needs a kNN classifier; call "
                       f"cpm.pretrain, or pass knn=cpm.eval.knn.knn_accuracy")
    started = dist.is_dist()
    info = dist.init_distributed(cfg.train.device)
    finished = False
    try:
        result = Run(cfg, info, Path(out_dir or cfg.train.out_dir), resume, force, knn).train(stop_after)
        finished = True
        return result
    finally:
        if not started:
            dist.cleanup(finished)


class Run:
    """Everything one pretraining run holds: data, model, optimizer, counters, logger."""

    def __init__(self, cfg, info: dist.DistInfo, out: Path, resume: str | None, force: bool, knn: KnnFn | None):
        tc = cfg.train
        self.cfg, self.info, self.out = cfg, info, out
        self.resume_path = runstate.resolve_resume(out, resume, force)  # refuses before anything is built
        seed_everything(tc.seed)
        keep_freed_memory()  # no page faults on each step's large host tensors (cpm/runtime/host_memory.py)
        if tc.batch_size % info.world_size:
            raise CPMError(f"config key 'train.batch_size': {tc.batch_size} is not divisible by the "
                           f"{info.world_size} torchrun processes")
        self.per_rank = tc.batch_size // info.world_size
        aug, coords = cfg.data.augment, coord_dims(cfg.data.channels)  # 2-D keypoints: maps act on (x, y)
        self.train_set = build_dataset(cfg.data, "train", transform=None if aug.on_device else
                                       TwoViews(NumpyAugment(aug, coords=coords)))
        if len(self.train_set) < tc.batch_size:
            raise CPMError(f"config key 'train.batch_size': {tc.batch_size} is larger than the training set "
                           f"({len(self.train_set)} samples)")
        self.layout, self.device = self.train_set.layout, info.device
        self.precision = choose_precision(tc.amp, self.device)
        model = build_model(cfg).to(self.device)  # same seed on every rank -> same init (DDP broadcasts it too)
        self.optimizer = build_optimizer(model, cfg.optim)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.scaled)
        self.augment = BatchAugment(aug, coords=coords)
        self.progress = runstate.Progress()
        if self.resume_path is not None:
            self.progress = runstate.restore_run(self.resume_path, model, self.optimizer, self.scaler, self.device,
                                                 cfg)
        else:
            torch.manual_seed(tc.seed + info.rank)  # distinct augmentation/dropout streams per rank
        self.model = dist.wrap_model(model, cfg, info)
        self.step_ctx = StepContext(self.model, self.optimizer, self.scaler, self.augment, cfg.data.stream,
                                    self.layout, self.device, self.precision)
        self.sampler = DistributedSampler(self.train_set, num_replicas=info.world_size, rank=info.rank,
                                          shuffle=True, seed=tc.seed)  # order = f(seed, epoch): nothing to save
        # workers that only read clips (augmentation on the device) live through the run: no start-up per epoch
        self.loader = seeded_loader(self.train_set, self.per_rank, cfg, self.device, self.sampler, drop_last=True,
                                    persistent=aug.on_device)
        steps = len(self.loader)
        if steps == 0:
            raise CPMError(f"config key 'train.batch_size': {self.per_rank} per process exceeds the "
                           f"{len(self.sampler)} samples each process sees")
        self.sched = dict(base_lr=cfg.optim.lr, final_lr=cfg.optim.final_lr, total_steps=tc.epochs * steps,
                          warmup_steps=cfg.schedule.warmup_epochs * steps)
        self.ema = dict(base=cfg.model.target_momentum, total_steps=self.sched["total_steps"],
                        schedule=cfg.model.target_momentum_schedule)
        self.knn = KnnMonitor(cfg, self.device, self.precision, knn) if cfg.eval.knn_every > 0 else None
        self.probe = FeatureProbe(cfg, self.train_set, self.device, self.precision)
        self.precise_bn = PreciseBN(cfg, self.train_set, self.per_rank, self.device, self.precision,
                                    coords) if cfg.eval.precise_bn > 0 else None
        self.bad_step = torch.full((), NO_BAD_STEP, dtype=torch.long, device=self.device)

    def result(self, tb_dir: Path) -> RunResult:
        return RunResult(self.out, self.out / runstate.LAST, tb_dir, self.out / METRICS_FILE,
                         self.progress.epoch, self.progress.step)

    def train(self, stop_after: int | None = None) -> RunResult:
        cfg, tc, info, out = self.cfg, self.cfg.train, self.info, self.out
        if self.progress.epoch >= tc.epochs:
            if info.is_main:
                print(f"run in {out} is already complete ({self.progress.epoch}/{tc.epochs} epochs)")
            return self.result(out / "tb")
        if info.is_main:
            if runstate.replaces_other_run(out, self.resume_path):
                runstate.clear_run(out)  # only reached with --force (resolve_resume refused otherwise)
            out.mkdir(parents=True, exist_ok=True)
            stale = ck.remove_stale_temps(out)
            if stale:
                print(f"removed {stale} temporary file(s) left by an interrupted checkpoint write in {out}")
            runstate.write_config(cfg, out)
            what = f"resuming {self.resume_path} at epoch {self.progress.epoch + 1}" if self.resume_path else "starting"
            print(f"{what}: {tc.epochs} epochs, batch {tc.batch_size} ({info.world_size} x {self.per_rank}), "
                  f"device {self.device}, {self.precision.name}, {len(self.train_set)} training samples -> {out}")
        dist.barrier()
        logger = RunLogger(out, enabled=info.is_main, tensorboard=cfg.logging.tensorboard,
                           resume_step=self.progress.step if self.resume_path else None)
        end = tc.epochs if stop_after is None else min(tc.epochs, self.progress.epoch + stop_after)
        self.model.train()
        try:
            for epoch in range(self.progress.epoch, end):
                means = self.train_epoch(epoch, logger)
                self.end_epoch(epoch, means, logger)
        finally:
            logger.close()
        return self.result(logger.tb_dir)

    def train_epoch(self, epoch: int, logger: RunLogger) -> dict[str, float]:
        """One pass over the training set; per-step scalars every ``logging.log_every`` steps."""
        cfg, tc, lc = self.cfg, self.cfg.train, self.cfg.loss
        self.sampler.set_epoch(epoch)
        self.loader.generator.manual_seed(tc.seed * 100003 + epoch)
        topk = lc.topk if epoch >= lc.pe_start_epoch else 0  # stage 2 (Eq. 8) from pe_start_epoch on
        stage = 2.0 if topk > 0 else 1.0
        average = epoch >= average_start(tc.epochs, cfg.model.average_last)
        window, total = StepStats(self.device), StepStats(self.device)
        t_epoch = t_win = time.perf_counter()
        win_samples, lr = 0, 0.0
        bar = logger.progress(len(self.loader), epoch, tc.epochs) if cfg.logging.progress else None
        # the sampler's order is a function of (seed, epoch): batch i holds order[i*B:(i+1)*B] (drop_last)
        order = torch.tensor(list(self.sampler), dtype=torch.long).to(self.device, non_blocking=True)
        for i, batch in enumerate(self.loader):
            # the schedules follow progress through the epochs, not the global step: a resume with another batch
            # size (or torchrun world size) changes the steps per epoch, and must not move the lr (or momentum) back
            k = epoch * len(self.loader) + i
            lr, momentum = warmup_cosine(k, **self.sched), target_momentum(k, **self.ema)
            scalars = train_step(self.step_ctx, batch, lr, topk, ids=order[i * self.per_rank:(i + 1) * self.per_rank],
                                 average=average, momentum=momentum)
            self.progress.step += 1
            self.bad_step = track_bad_step(self.bad_step, scalars["loss"], self.progress.step)
            window.add(scalars)
            total.add(scalars)
            win_samples += tc.batch_size
            if bar is not None:
                bar.update(1)
            if self.progress.step % cfg.logging.log_every == 0:
                means, now = window.means(), time.perf_counter()
                means.update(lr=lr, stage=stage, samples_per_s=win_samples / max(now - t_win, 1e-9))
                if self.device.type == "cuda":
                    means["gpu_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
                logger.log("step", epoch, self.progress.step, means)
                if bar is not None:
                    bar.set_postfix(loss=f"{means['loss']:.4f}", lr=f"{lr:.4g}", sps=f"{means['samples_per_s']:.0f}")
                window.reset()
                t_win, win_samples = now, 0
                check_finite(means["loss"], self.bad_step, epoch, self.out / runstate.LAST)
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - t_epoch
        means = total.means()
        means.update(lr=lr, stage=stage, samples_per_s=len(self.loader) * tc.batch_size / elapsed,
                     epoch_time_s=elapsed)
        check_finite(means["loss"], self.bad_step, epoch, self.out / runstate.LAST)
        return means

    def end_epoch(self, epoch: int, means: dict[str, float], logger: RunLogger) -> None:
        """kNN probe when due, epoch scalars, checkpoints (rank 0 writes, every rank gives its RNG state)."""
        cfg, info, p = self.cfg, self.info, self.progress
        p.epoch = epoch + 1
        knn_due = self.knn is not None and (p.epoch % cfg.eval.knn_every == 0 or p.epoch == cfg.train.epochs)
        if self.precise_bn is not None and info.is_main and (knn_due or p.epoch == cfg.train.epochs):
            self.precise_bn(getattr(unwrap(self.model), BRANCH_MODULE[cfg.eval.encoder]), epoch)
        if info.is_main:
            means.update(self.probe(self.model))
            warning = collapse_warning(means["feat_spread"], means["feat_rank"])
            # a random-init ST-GCN's features barely differ between clips: judge only after the warmup
            if warning and p.epoch > cfg.schedule.warmup_epochs:
                print(f"warning (epoch {p.epoch}): {warning}", flush=True)
        if knn_due and info.is_main:
            means.update(self.knn(self.model))
        dist.barrier()
        logger.log("epoch", epoch, p.step, means)
        if info.is_main:
            knn = f", kNN {means['knn_top1']:.1f}%" if "knn_top1" in means else ""
            knn += f" (student {means['knn_student_top1']:.1f}%)" if "knn_student_top1" in means else ""
            knn += f", features: spread {100 * means['feat_spread']:.1f}%, rank {means['feat_rank']:.1f}"
            print(f"epoch {p.epoch}/{cfg.train.epochs} stage {int(means['stage'])}: loss {means['loss']:.4f}, "
                  f"lr {means['lr']:.4g}, {means['samples_per_s']:.1f} samples/s{knn}", flush=True)
        runstate.save_run(self.out, self.model, self.optimizer, self.scaler,
                          schedule_state(p.epoch * len(self.loader), **self.sched), p, cfg)  # collective
        dist.barrier()
