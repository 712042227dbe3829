"""Sections 1-2: end-to-end pretraining throughput of our trainer's step against a reference-style pipeline, and
where the time of one of our steps goes.

Reference style = how the public ST-GCN / CrosSCLR / AimCLR pretraining code feeds the model: per-sample numpy
shear + temporal crop inside the DataLoader workers, the batch copied to the device afterwards (pageable memory),
fp32, `loss.item()` logged every iteration. Ours = `cpm.train.steps.train_step`: raw joints in workers, pinned
non-blocking copy, `BatchAugment` on the device, AMP on CUDA, scalars kept on the device.
Both run the same model (same config and seed) on the same generated arrays, in alternating timed windows.
"""
from __future__ import annotations

import copy
import time

import torch
from torch.utils.data import DataLoader, RandomSampler, default_collate

from cpm.bench.timing import median, sync
from cpm.data.dataset import build_dataset
from cpm.data.transforms import BatchAugment, NumpyAugment
from cpm.models import build_model
from cpm.train.monitor import StepStats
from cpm.train.schedule import set_lr
from cpm.runtime.device import Precision, autocast, choose_precision
from cpm.train.steps import StepContext, TwoViews, build_optimizer, make_views, seeded_loader, train_step


def sampler(dataset, batch: int, n_batches: int, seed: int) -> RandomSampler:
    """`n_batches` random batches' worth of indices (several epochs of a small dataset if needed)."""
    return RandomSampler(dataset, num_samples=batch * n_batches, generator=torch.Generator().manual_seed(seed))


class Ours:
    """Our trainer's step (`train_step`) with its loader settings (pinned memory on CUDA)."""
    name = "ours"

    def __init__(self, model, cfg, device):
        self.model, self.cfg, self.device = model, cfg, device
        self.precision = choose_precision(cfg.train.amp, device)
        self.optimizer = build_optimizer(model, cfg.optim)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision.scaled)
        self.augment = BatchAugment(cfg.data.augment)
        self.stats = StepStats(device)
        self.dataset = build_dataset(cfg.data, "train")

    def loader(self, n_batches: int, seed: int) -> DataLoader:
        b = self.cfg.train.batch_size  # the trainer's own loader (pinned memory on CUDA)
        return seeded_loader(self.dataset, b, self.cfg, self.device, sampler(self.dataset, b, n_batches, seed), True)

    def step(self, batch, topk: int) -> None:
        ctx = StepContext(self.model, self.optimizer, self.scaler, self.augment, self.cfg.data.stream,
                          self.dataset.layout, self.device, self.precision)  # built per step: OursBF16 swaps precision
        scalars = train_step(ctx, batch, self.cfg.optim.lr, topk)
        self.stats.add(scalars)  # what the trainer does every step (device-side sums)


class OursBF16(Ours):
    """Our step under bf16 autocast on a CPU with native bf16 (AMX / AVX512-BF16). Not what the trainer does
    today (it trains in fp32 on CPU); measured to quantify that option."""
    name = "ours_cpu_bf16"

    def __init__(self, model, cfg, device):
        super().__init__(model, cfg, device)
        self.precision = Precision(torch.bfloat16, False)


def cpu_bf16_supported() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Reference:
    """The reference-style loop: numpy views from the workers, pageable copy, fp32, a host sync per step."""
    name = "reference"

    def __init__(self, model, cfg, device):
        self.model, self.cfg, self.device = model, cfg, device
        self.optimizer = build_optimizer(model, cfg.optim)  # the same optimizer: only the pipeline differs
        self.dataset = build_dataset(cfg.data, "train", transform=TwoViews(NumpyAugment(cfg.data.augment)))

    def loader(self, n_batches: int, seed: int) -> DataLoader:
        b = self.cfg.train.batch_size
        return DataLoader(self.dataset, batch_size=b, sampler=sampler(self.dataset, b, n_batches, seed),
                          num_workers=self.cfg.data.num_workers, drop_last=True)  # pageable memory

    def step(self, batch, topk: int) -> float:
        x, y = batch
        x, y = x.float().to(self.device), y.long().to(self.device)
        set_lr(self.optimizer, self.cfg.optim.lr)
        out = self.model(x[:, 0], x[:, 1], topk=topk, labels=y)
        self.optimizer.zero_grad()
        out["loss"].backward()
        self.optimizer.step()
        return out["loss"].item()


def timed_window(pipe, warmup: int, steps: int, topk: int, seed: int) -> float:
    """Samples/s over `steps` steps after `warmup` untimed ones (worker start-up excluded), data loading included."""
    batches = iter(pipe.loader(warmup + steps, seed))
    for _ in range(warmup):
        pipe.step(next(batches), topk)
    sync(pipe.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        pipe.step(next(batches), topk)
    sync(pipe.device)
    elapsed = time.perf_counter() - t0
    del batches  # shut the workers down before the other pipeline's window
    return steps * pipe.cfg.train.batch_size / elapsed


def throughput(cfg, opts) -> tuple[dict, Ours]:
    """Section 1. Windows alternate ours / reference `opts.rounds` times; medians of samples/s."""
    device = opts.device
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    pipes = [Ours(model, cfg, device), Reference(copy.deepcopy(model), cfg, device)]
    if device.type == "cpu" and cpu_bf16_supported():
        pipes.append(OursBF16(copy.deepcopy(model), cfg, device))
    topk = cfg.loss.topk  # stage 2 (positive mining on): the costlier stage
    rates = {p.name: [] for p in pipes}
    peak = {}
    for r in range(opts.rounds):
        for p in pipes:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            # one more untimed step in the first round: first-touch allocations, oneDNN primitive creation
            rates[p.name].append(timed_window(p, opts.warmup + (r == 0), opts.steps, topk, seed=r))
            if device.type == "cuda":
                peak[p.name] = max(peak.get(p.name, 0.0), torch.cuda.max_memory_allocated(device) / 2 ** 30)
    ours, ref = median(rates["ours"]), median(rates["reference"])
    out = {"batch": cfg.train.batch_size, "topk": topk, "precision_ours": pipes[0].precision.name,
           "precision_reference": "fp32", "ours_samples_per_s": ours, "reference_samples_per_s": ref,
           "ratio": ours / ref, "windows": rates, "steps_per_window": opts.steps, "warmup_steps": opts.warmup}
    if "ours_cpu_bf16" in rates:
        out["ours_cpu_bf16_samples_per_s"] = median(rates["ours_cpu_bf16"])
        out["ratio_cpu_bf16"] = out["ours_cpu_bf16_samples_per_s"] / ref
    if peak:
        out["peak_device_memory_gb"] = peak
    return out, pipes[0]


def _clock(device, times: dict, key: str, t0: float) -> float:
    sync(device)
    now = time.perf_counter()
    times.setdefault(key, []).append(now - t0)
    return now


def instrumented_step(ours: Ours, batches, topk: int, times: dict) -> None:
    """One `train_step` split into phases, each closed by a device sync. The loss path is then re-run alone
    (forward + backward from detached heads' outputs) to split the backward into heads/encoder and loss."""
    m, dev, cfg = ours.model, ours.device, ours.cfg
    t = time.perf_counter()
    x, y = next(batches)
    x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
    t = _clock(dev, times, "data loading", t)
    x1, x2 = make_views(x, ours.augment, cfg.data.stream, ours.dataset.layout)
    t = _clock(dev, times, "augmentation", t)
    set_lr(ours.optimizer, cfg.optim.lr)
    with autocast(dev, ours.precision):
        z1, z2 = m.embed(x1), m.embed(x2)
        p1, p2 = m.predictor(z1), (m.predictor(z2) if m.symmetric else None)
        t = _clock(dev, times, "encoder + heads forward", t)
        out = m.contrast(p1, p2, m.target(x1, z1), m.target(x2, z2), topk, y, z1=z1)
    t = _clock(dev, times, "loss fwd", t)
    ours.optimizer.zero_grad(set_to_none=True)
    ours.scaler.scale(out["loss"]).backward()
    t = _clock(dev, times, "backward (all)", t)
    ours.scaler.step(ours.optimizer)
    ours.scaler.update()
    _clock(dev, times, "optimizer", t)

    leaves = [v.detach().requires_grad_(True) if v is not None else None for v in (p1, p2)]
    with autocast(dev, ours.precision):
        alone = m.contrast(leaves[0], leaves[1], z1.detach(), z2.detach(), topk, y)
    t = time.perf_counter()
    ours.scaler.scale(alone["loss"]).backward()
    _clock(dev, times, "loss bwd", t)


def data_cost_us(dataset, n: int = 256) -> float:
    """Microseconds per sample to read, prepare and collate `n` random samples in this process: the CPU work
    a DataLoader worker does (both pipelines spread it over `data.num_workers` processes)."""
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n].tolist()
    t0 = time.perf_counter()
    default_collate([dataset[i] for i in idx])
    return (time.perf_counter() - t0) / len(idx) * 1e6


def breakdown(ours: Ours, opts) -> dict:
    """Section 2: median ms and % of one step per phase, and whether loss+mining+queue is <= 5 % of it."""
    topk = ours.cfg.loss.topk
    n = 1 + opts.steps
    batches = iter(ours.loader(n, seed=100))
    times: dict[str, list[float]] = {}
    instrumented_step(ours, batches, topk, {})  # warmup
    for _ in range(opts.steps):
        instrumented_step(ours, batches, topk, times)
    del batches
    med = {k: median(v) * 1e3 for k, v in times.items()}
    rows = {
        "data loading": med["data loading"],
        "augmentation": med["augmentation"],
        "encoder + heads forward": med["encoder + heads forward"],
        "encoder + heads backward": max(med["backward (all)"] - med["loss bwd"], 0.0),
        "loss + mining + queue (fwd+bwd)": med["loss fwd"] + med["loss bwd"],
        "optimizer": med["optimizer"],
    }
    step = sum(rows.values())
    loss_pct = 100 * rows["loss + mining + queue (fwd+bwd)"] / step
    reference_set = build_dataset(ours.cfg.data, "train", transform=TwoViews(NumpyAugment(ours.cfg.data.augment)))
    cost = {"ours_raw_joints": data_cost_us(ours.dataset), "reference_numpy_two_views": data_cost_us(reference_set)}
    return {"step_ms": step, "rows": {k: {"ms": v, "pct": 100 * v / step} for k, v in rows.items()},
            "data_cost_us_per_sample": cost,
            "loss_mining_queue_pct": loss_pct, "target_pct": 5.0, "met": loss_pct <= 5.0,
            "queue_size": ours.model.queue.size, "topk": topk, "steps": opts.steps}
