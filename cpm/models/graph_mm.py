"""The graph product X A of the spatial graph convolution as a tall-skinny matmul computed in row blocks.

X is (rows, V) with rows = N*M * C_in * T (~10^5 at batch 64) and V = 25 joints; A is (V, K*V). One MKL call
on the whole of X measured 2.5-3x slower on CPU (fp32, 1-2 threads: 34 vs 11 ms at 102,400 rows) than the same
call on blocks of 4,096 rows, whose (4,096, 75) outputs stay in cache. Every row is computed by the same
kernel either way: the result is bit for bit the single call's. The backward is autograd's own for `mm`
(one call each for dX and dA: blocks would change dA's summation order).
"""
from __future__ import annotations

import torch

ROWS = 4096  # rows per block: a 1.2 MB output block at K*V = 75


def row_block_mm(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x @ b for contiguous 2-D `x`, one matmul per block of ROWS rows."""
    out = x.new_empty(x.shape[0], b.shape[1])
    for start in range(0, x.shape[0], ROWS):
        torch.mm(x[start:start + ROWS], b, out=out[start:start + ROWS])
    return out


class _RowBlockMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, b)
        return row_block_mm(x, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, b = ctx.saved_tensors
        # the formulas of autograd's MmBackward0 for row-major operands (same calls, same numbers)
        gx = grad.mm(b.t()) if ctx.needs_input_grad[0] else None
        gb = x.t().mm(grad) if ctx.needs_input_grad[1] else None
        return gx, gb


def graph_mm(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x @ b: in row blocks for a tall contiguous fp32 CPU `x` outside autocast, else one `mm` (CUDA, autocast
    casts, or at most two blocks: nothing to gain)."""
    if (x.device.type != "cpu" or x.shape[0] <= 2 * ROWS or not x.is_contiguous() or x.dtype != b.dtype
            or torch.is_autocast_enabled("cpu")):
        return x @ b
    return _RowBlockMM.apply(x, b.contiguous())
