"""Input streams computed on the fly from joint coordinates (CrosSCLR / AimCLR / CMD: joint, bone, motion).

Works on a torch batch (N, C, T, V, M) on any device and on a numpy sample (C, T, V, M): every operation
indexes from the end (T = axis -3, V = axis -2), so both ranks share one code path.
"""
from __future__ import annotations

import typing

import numpy as np
import torch

from cpm.config.schema import Stream
from cpm.errors import CPMError
from cpm.graph import Layout

STREAMS = typing.get_args(Stream)


def _check(x, stream: str, layout: Layout) -> None:
    if stream not in STREAMS:
        raise CPMError(f"unknown stream '{stream}': expected one of {', '.join(STREAMS)}")
    if x.ndim not in (4, 5):
        raise CPMError(f"to_stream: expected (C, T, V, M) or (N, C, T, V, M), got shape {tuple(x.shape)}")
    if x.shape[-2] != layout.num_joints:
        raise CPMError(f"to_stream: input has V={x.shape[-2]} joints but layout '{layout.name}' has "
                       f"{layout.num_joints} (shape {tuple(x.shape)})")


def to_stream(x, stream: str, layout: Layout):
    """Joint coordinates -> 'joint' (unchanged), 'bone' (v - parent(v), centre 0) or 'motion' (x[t+1]-x[t], last 0).

    `x` is a torch tensor (N, C, T, V, M) or a numpy array (C, T, V, M); the result has the same type,
    shape, dtype and device. 'joint' returns `x` itself (no copy).
    """
    _check(x, stream, layout)
    if stream == "joint":
        return x
    if stream == "bone":
        parents = layout.parents
        if isinstance(x, torch.Tensor):
            return x - x.index_select(-2, torch.as_tensor(parents, device=x.device))
        return x - x[..., parents, :]
    if isinstance(x, torch.Tensor):  # motion
        out = torch.zeros_like(x)
        out[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
        return out
    out = np.zeros_like(x)
    out[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return out
