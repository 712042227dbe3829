"""Device and numeric precision: which device a run uses and in which dtype its forward passes run."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from cpm.errors import CPMError


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
    if device.type == "cuda" and device.index is None:  # more local ranks than GPUs: init_distributed refuses
        device = torch.device("cuda", local_rank)
    return device


@dataclass(frozen=True)
class Precision:
    """Autocast dtype (None = fp32) and whether fp16 loss scaling is needed."""
    dtype: torch.dtype | None
    scaled: bool

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]


FP32 = Precision(None, False)


def choose_precision(amp: str, device: torch.device) -> Precision:
    """``auto``: bf16 on CUDA where supported, else fp16 + GradScaler; always fp32 on CPU."""
    if amp == "off" or device.type != "cuda":
        if amp in ("bf16", "fp16") and device.type != "cuda":
            print(f"note: train.amp={amp} ignored on {device.type}; training in fp32")
        return FP32
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Precision(torch.bfloat16, False) if amp == "bf16" else Precision(torch.float16, True)


def autocast(device: torch.device, precision: Precision):
    """The autocast context of `precision` on `device` (a no-op context for fp32)."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)
