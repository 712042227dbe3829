"""Benchmark options, the run config and the generated skeleton arrays every section reads."""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cpm.config import Config, apply_overrides, config_from_dict
from cpm.errors import CPMError

SECTIONS = ("trainer", "ceiling", "throughput", "breakdown", "encoder", "linear_eval", "data_prep", "memory")


@dataclass
class BenchOptions:
    """Sizes of one benchmark run; `for_device` fills the documented defaults."""
    device: torch.device
    quick: bool = False
    batch: int = 0  # training batch: 512 on CUDA (paper), 16 (--quick) / 32 on CPU, where a step is ~1000x slower
    warmup: int = 0  # untimed steps before each timed window (worker start-up, allocator, oneDNN primitives)
    steps: int = 0  # timed steps per window
    rounds: int = 0  # ours / reference windows alternate this many times (medians; fair under CPU contention)
    workers: int = 2  # DataLoader workers of both pipelines: 2 on CPU, 4 on CUDA (as configs/ntu60_*.yaml)
    train_samples: int = 0  # rows of the generated training array
    eval_samples: int = 0  # clips the linear probe trains on
    eval_epochs: int = 100  # linear-probe protocol length (paper 4.2)
    uncached_epochs: int = 1  # re-encoding epochs actually timed (every epoch costs the same; scaled to eval_epochs)
    prep_files: int = 0  # generated .skeleton files for the preparation benchmark
    mem_gb: float = 1.0  # size of the memory-mapped array of the memory section
    overrides: list = field(default_factory=list)  # `--set key=value` config overrides (shapes for smoke tests)
    sections: tuple = SECTIONS
    trainer_batches: tuple = ()  # section "trainer": batch sizes of scripts/pretrain.py vs the reference
    trainer_steps: int = 0  # section "trainer": timed steady-state steps per process
    warmup_steps: int = 2  # section "trainer": first steps left out (worker start-up, first-touch allocations)
    reference: Path | None = None  # section "trainer": script printing "<x> samples/s" (None: ours alone)

    @classmethod
    def for_device(cls, device: torch.device, quick: bool, **given) -> "BenchOptions":
        cuda = device.type == "cuda"
        if cuda:
            d = dict(batch=512, workers=4, warmup=5, steps=20 if not quick else 10, rounds=2, eval_samples=8192,
                     prep_files=800 if not quick else 400, uncached_epochs=2 if not quick else 1,
                     trainer_batches=(512,), trainer_steps=10 if quick else 20, warmup_steps=5)
        else:
            d = dict(batch=16 if quick else 32, warmup=1, steps=3 if quick else 4, rounds=3,
                     eval_samples=64 if quick else 256, prep_files=200 if quick else 600,
                     uncached_epochs=1, trainer_batches=(64, 16), trainer_steps=3 if quick else 6)
        d["train_samples"] = max(4 * d["batch"], 256)
        d.update({k: v for k, v in given.items() if v is not None})
        return cls(device=device, quick=quick, **d)


def make_config(opts: BenchOptions, root: str | Path) -> Config:
    """The paper's NTU pretraining config (Config defaults), reading the generated arrays in `root`."""
    data = Config().to_dict()
    data["data"].update(format="arrays", root=str(root), num_workers=opts.workers)
    data["train"].update(batch_size=opts.batch, device=str(opts.device))
    data["logging"].update(tensorboard=False, progress=False)
    cfg = config_from_dict(apply_overrides(data, opts.overrides))
    if cfg.data.format != "arrays" or cfg.data.num_frames < 4:
        raise CPMError(f"--set: the benchmark needs data.format=arrays and data.num_frames >= 4, got "
                       f"{cfg.data.format!r} / {cfg.data.num_frames}")
    return cfg


def skeleton_chunk(rng: np.random.Generator, n: int, t: int, v: int, m: int) -> np.ndarray:
    """(n, 3, t, v, m) float32 random-walk bodies; the second person is absent (zeros) in 3 of 4 clips, as in NTU."""
    base = rng.normal(0, 0.3, (n, 3, 1, v, m)).astype(np.float32)
    walk = np.cumsum(rng.normal(0, 0.02, (n, 3, t, v, m)).astype(np.float32), axis=2)
    x = base + walk
    if m > 1:
        x[rng.random(n) < 0.75, ..., 1:] = 0
    return x


def write_arrays(root: str | Path, split: str, n: int, cfg: Config, num_classes: int = 60, seed: int = 0,
                 chunk: int = 1024) -> Path:
    """`{split}_position.npy` (n, 3, T, V, M) + `{split}_label.pkl` in the st-gcn/CrosSCLR format, written in
    chunks (flat memory, so a multi-GB array can be generated); returns the array's path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    d = cfg.data
    from cpm.graph import layout_of

    v = layout_of(d).num_joints
    rng = np.random.default_rng(seed)
    path = root / f"{split}_position.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 3, d.num_frames, v, d.max_persons))
    block = skeleton_chunk(rng, min(chunk, n), d.num_frames, v, d.max_persons)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        # one generated block, shifted per chunk: generating a GB of random walks would dominate the run
        part = block[: stop - start]
        out[start:stop] = np.where(part != 0, part + np.float32(1e-3 * (start // chunk)), 0)
    out.flush()
    del out
    labels = rng.integers(0, num_classes, n).tolist()
    with open(root / f"{split}_label.pkl", "wb") as f:
        pickle.dump(([f"sample{i:06d}" for i in range(n)], labels), f)
    return path


def pick_threads(device: torch.device, cfg: Config, given: int | None = None) -> tuple[int, dict]:
    """Intra-op threads for the run: `given`, or on CPU the faster of 1 thread and all cores on a small encoder
    forward+backward (medians of 3). On a machine whose cores are busy with other work, OpenMP barriers make
    every op wait for a descheduled thread (measured 5x slower with 2 threads than with 1 on a loaded 2-core
    VM); on an idle one all cores win. CUDA: up to 8 threads for the host side."""
    cores = os.cpu_count() or 1
    if given:
        return given, {}
    if device.type != "cpu" or cores == 1:
        return min(cores, 8), {}
    import statistics
    import time

    from cpm.models import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder(cfg).train()
    x = torch.randn(2, cfg.model.in_channels, cfg.data.num_frames, encoder.num_joints, cfg.data.max_persons)
    previous, ms = torch.get_num_threads(), {}
    for n in (1, cores):
        torch.set_num_threads(n)
        encoder(x).sum().backward()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            encoder(x).sum().backward()
            times.append(time.perf_counter() - t0)
        ms[n] = 1e3 * statistics.median(times)
    torch.set_num_threads(previous)
    return min(ms, key=ms.get), {"calibration_ms": ms}
