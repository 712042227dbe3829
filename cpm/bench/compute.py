"""Section 3: encoder forward+backward GFLOP/s against the device's measured dense-matmul GFLOP/s."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from cpm.bench.timing import matmul_gflops, median, time_call
from cpm.models import build_encoder
from cpm.runtime.device import FP32, Precision, autocast, choose_precision


def encoder_flops(encoder: torch.nn.Module, x: torch.Tensor) -> int:
    """Dense FLOPs (convolutions, matmuls, einsums; 2 per multiply-add) of one forward + backward on `x`."""
    with FlopCounterMode(display=False) as counter:
        encoder(x).sum().backward()
    encoder.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def fwd_bwd_seconds(encoder: torch.nn.Module, x: torch.Tensor, device: torch.device, reps: int,
                    precision: Precision = FP32) -> float:
    """Median seconds of one forward + backward of `encoder` on `x` (gradients cleared first), one warm-up call."""
    def step():
        encoder.zero_grad(set_to_none=True)
        with autocast(device, precision):
            y = encoder(x)
        y.float().sum().backward()

    return median(time_call(step, device, warmup=1, reps=reps))


def encoder_efficiency(cfg, opts) -> dict:
    """Encoder (train mode) on both views of one training batch, under the trainer's precision."""
    device = opts.device
    precision = choose_precision(cfg.train.amp, device)
    torch.manual_seed(0)
    encoder = build_encoder(cfg).to(device).train()
    d = cfg.data
    x = torch.randn(2 * cfg.train.batch_size, cfg.model.in_channels, d.num_frames, encoder.num_joints,
                    d.max_persons, device=device)
    flops = encoder_flops(encoder, x)
    seconds = fwd_bwd_seconds(encoder, x, device, reps=3 if not opts.quick else 2, precision=precision)
    dtype = precision.dtype or torch.float32
    ceiling = matmul_gflops(device, dtype)
    achieved = flops / seconds / 1e9
    return {"samples": x.shape[0], "precision": precision.name, "gflop_per_fwd_bwd": flops / 1e9,
            "gflop_per_sample": flops / 1e9 / x.shape[0], "fwd_bwd_ms": seconds * 1e3,
            "encoder_gflops": achieved, "matmul_gflops": ceiling, "ratio": achieved / ceiling}
