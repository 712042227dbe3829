"""Thin helpers over ``torch.distributed`` for runs launched by ``torchrun`` (env:// rendezvous), and the model
wrapping (torch.compile, SyncBatchNorm, DDP) such a run uses.

Without torchrun (no ``WORLD_SIZE`` in the environment) nothing is initialised and every helper
degrades to the single-process answer, so the same trainer code runs both ways.
"""
from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cpm.errors import CPMError
from cpm.runtime.device import pick_device


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


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise the process group from torchrun's env vars (nccl on CUDA, gloo on CPU) if launched so."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if not launched_by_torchrun():
        return DistInfo(0, 1, 0, dev)
    if dev.type == "cuda":  # two processes on one GPU: NCCL refuses them later with "Duplicate GPU detected"
        per_node = max(int(os.environ.get("LOCAL_WORLD_SIZE", "0")), local_rank + 1)
        count = torch.cuda.device_count()
        if per_node > count:
            raise CPMError(f"torchrun started {per_node} processes on this node but it has {count} CUDA device(s): "
                           f"use --nproc_per_node {count} (one process per GPU), or train.device=cpu")
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


def use_sync_bn(cfg, info: DistInfo) -> bool:
    """Whether BN is synchronised across the torchrun processes; with >1 process rank 0 prints one line saying so.

    On by default (`model.sync_bn`): the lineage trains batch 512 on one GPU, so its BN sees all 512; per-process
    BN would see 512 / world_size. torch's SyncBatchNorm has no CPU kernel, so CPU runs keep per-process BN.
    """
    if not info.distributed:
        return False
    per_rank = cfg.train.batch_size // info.world_size
    on = cfg.model.sync_bn and info.device.type == "cuda"
    if on:
        text = (f"on: one BN over the global batch of {cfg.train.batch_size} across {info.world_size} processes "
                f"(model.sync_bn=false: per-process BN over {per_rank})")
    else:
        why = "model.sync_bn=false" if not cfg.model.sync_bn else f"no SyncBatchNorm kernel on {info.device.type}"
        text = f"off ({why}): each of the {info.world_size} processes normalises its own {per_rank} clips"
    if info.is_main:
        print(f"note: SyncBatchNorm {text}")
    return on


def wrap_model(model, cfg, info: DistInfo):
    """Optional torch.compile (per submodule, state_dict keys unchanged), SyncBatchNorm, DDP."""
    if cfg.train.compile:
        for part in (model.encoder, model.projector, model.predictor):
            part.compile()
    if not info.distributed:
        return model
    if use_sync_bn(cfg, info):
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [info.device.index] if info.device.type == "cuda" else None
    ddp = torch.nn.parallel.DistributedDataParallel
    # the queue is identical on every rank by construction (all-gather): no per-step buffer broadcast
    no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
               else {"broadcast_buffers": False})  # renamed in recent torch
    return ddp(model, device_ids=ids, **no_sync)


def cleanup(finished: bool = True) -> None:
    """Leave the process group. After a finished run every rank first waits for the others, so none closes its
    connections while a peer is still in its last collective (gloo can abort that peer: SIGABRT, "terminate called
    without an active exception"); after a failure it leaves at once, as the peers may never reach the barrier."""
    if is_dist():
        if finished:
            dist.barrier()
        dist.destroy_process_group()
        gc.collect()  # free the backend's objects now, not during interpreter shutdown
