"""Clocks for the benchmark: device synchronisation, warmup + median timing, the dense-matmul ceiling."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import torch


def sync(device: torch.device) -> None:
    """Wait for queued device work (CUDA kernels run asynchronously; a clock read alone would miss them)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int = 1, reps: int = 3) -> list[float]:
    """Seconds of `reps` calls of `fn` after `warmup` untimed ones, each bracketed by device syncs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def median(xs) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048,
                  reps: int = 5) -> float:
    """Measured dense (n x n) @ (n x n) GFLOP/s: the practical compute ceiling of this device and dtype."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n ** 3 / median(time_call(lambda: a @ b, device, warmup=2, reps=reps)) / 1e9


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict:
    """What produced the numbers: CPU, cores, threads, torch, and the accelerator when used."""
    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(device).total_memory / 2 ** 30, 1)
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other processes competing for the cores
    except OSError:
        pass
    return info
