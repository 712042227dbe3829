"""Thin helpers over ``torch.distributed`` for runs launched by ``torchrun`` (env:// rendezvous).

Without torchrun (no ``WORLD_SIZE`` in the environment) nothing is initialised and every helper
degrades to the single-process answer, so the same trainer code runs both ways.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cpm.errors import CPMError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def pick_device(requested: str = "auto", local_rank: int = 0, key: str = "train.device") -> torch.device:
    """``auto`` -> CUDA (this process's local GPU) when available, else CPU; or the device asked for.

    A device this machine does not have is a one-line :class:`CPMError` naming ``key`` (where it was set).
    """
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise CPMError(f"{key} '{requested}': not a device; expected auto|cpu|cuda|cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise CPMError(f"{key} '{requested}': CUDA is not available on this machine (use cpu or auto)")
        if device.index is not None and device.index >= count:
            raise CPMError(f"{key} '{requested}': this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    elif device.type != "cpu":
        raise CPMError(f"{key} '{requested}': expected auto|cpu|cuda|cuda:N")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return device


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise the process group from torchrun's env vars (nccl on CUDA, gloo on CPU) if launched so."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if not launched_by_torchrun():
        return DistInfo(0, 1, 0, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dev)


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def is_main() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_dist():
        dist.barrier()


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of ``t`` over ranks (a copy; ``t`` itself unchanged); identity without a process group."""
    if not is_dist():
        return t
    t = t.detach().clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / get_world_size()


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (e.g. a decision to abort, taken on rank 0)."""
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup() -> None:
    if is_dist():
        dist.destroy_process_group()
