"""Section 6: host memory while training from a memory-mapped array of >= 1 GB (and peak device memory on CUDA).

The parent writes the array into a temporary folder (deleted afterwards) and runs the training in a child
process (`python -m cpm.bench.memory`), so nothing the parent allocated is counted. The child streams the whole
array once through our pipeline (DataLoader workers -> device -> BatchAugment) and runs full training steps on
the last `train_steps` batches (all of them on CUDA; CPU steps are too slow for a 1 GB pass). A thread samples
the proportional set size (PSS: shared pages split between the processes that map them) of the child and its
DataLoader workers from /proc; the child's own peak RSS comes from the kernel (VmHWM).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

LIMIT_GB = 1.5


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:  # the process ended between listing and reading
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Process ids of all live descendants of `pid` (from /proc/*/stat parent ids)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry.name)] = int(fields[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        frontier += kids
    return out


class TreeMemory:
    """Background sampler of the summed PSS (MB) of a process and its descendants, as a context manager.

    `.peak_mb` overall and `.peaks[phase]` per value of `.phase`, which the caller may switch while it runs.
    """

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak_mb, self.peak_procs = pid, interval, 0.0, 0
        self.phase, self.peaks = "setup", {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        phase = self.phase
        pids = [self.pid] + descendants(self.pid)
        mb = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024
        self.peaks[phase] = max(self.peaks.get(phase, 0.0), mb)
        if mb > self.peak_mb:
            self.peak_mb, self.peak_procs = mb, len(pids)
        return mb

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def child(args: dict) -> dict:
    """Runs in the child process: one pass over the memory-mapped array through our training pipeline."""
    from cpm.bench.pipeline import Ours
    from cpm.bench.setup import BenchOptions, make_config
    from cpm.bench.timing import sync
    from cpm.models import build_model
    from cpm.runtime.host_memory import keep_freed_memory
    from cpm.train.steps import make_views

    keep_freed_memory()  # the trainer's allocator settings: its peak is what is measured
    torch.set_num_threads(args["threads"])
    device = torch.device(args["device"])
    opts = BenchOptions(device=device, batch=args["batch"], workers=args["workers"], overrides=args["overrides"])
    cfg = make_config(opts, args["root"])
    torch.manual_seed(0)
    ours = Ours(build_model(cfg).to(device).train(), cfg, device)
    n = len(ours.dataset) // opts.batch
    steps = n if args["train_steps"] < 0 else min(args["train_steps"], n)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with TreeMemory(os.getpid()) as mem:
        mem.phase = "setup"  # model, queue, CUDA context: before any batch is read
        mem.sample()
        t0 = time.perf_counter()
        for i, batch in enumerate(ours.loader(n, seed=0)):  # an epoch's worth of random batches
            # stream first, train last: freed activations stay in the allocator and would blur the stream peak
            mem.phase = "train" if i >= n - steps else "stream"
            if i >= n - steps:
                ours.step(batch, cfg.loss.topk)
            else:
                make_views(batch[0].to(device, non_blocking=True), ours.augment, cfg.data.stream,
                           ours.dataset.layout)
        sync(device)
        seconds = time.perf_counter() - t0
    out = {"samples_streamed": n * opts.batch, "train_steps": steps, "batches": n, "seconds": seconds,
           "peak_tree_pss_gb": mem.peak_mb / 1024, "processes": mem.peak_procs,
           "peak_tree_pss_gb_by_phase": {k: v / 1024 for k, v in mem.peaks.items() if k},
           "peak_main_rss_gb": _kb("/proc/self/status", "VmHWM:") / 2 ** 20}
    if device.type == "cuda":
        out["peak_device_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
    return out


def memory_profile(cfg, opts, threads: int) -> dict:
    """Generate the array (>= opts.mem_gb), train from it in a child process, delete it; the child's report."""
    from cpm.bench.setup import write_arrays

    d = cfg.data
    sample_bytes = 3 * d.num_frames * 25 * d.max_persons * 4
    n = max(int(opts.mem_gb * 2 ** 30 / sample_bytes) + 1, 2 * opts.batch)
    with tempfile.TemporaryDirectory(prefix="cpm_bench_mem_") as tmp:
        path = write_arrays(tmp, "train", n, cfg, seed=1)
        size_gb = path.stat().st_size / 2 ** 30
        # CPU: at most 16 clips per step (fp32 activations of a 32-clip step alone approach 2 GB)
        batch = opts.batch if opts.device.type == "cuda" else min(opts.batch, 16)
        args = {"root": tmp, "device": str(opts.device), "batch": batch, "workers": opts.workers,
                "overrides": opts.overrides, "threads": threads,
                "train_steps": -1 if opts.device.type == "cuda" else (2 if opts.quick else 4)}
        proc = subprocess.run([sys.executable, "-m", "cpm.bench.memory", json.dumps(args)], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parents[2])
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(array_gb=size_gb, array_samples=n, batch=batch, limit_gb=LIMIT_GB,
               met=out["peak_tree_pss_gb"] < LIMIT_GB)
    return out


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
