"""`BatchAugment`: the per-sample augmentations of `cpm.data.transforms`, batched on the batch's device.

A whole (N, C, T, V, M) batch at once: one bmm for the 3x3 maps (rotation, shear and scale composed), one gather for
the mirror-padded temporal crop, a two-gather lerp for crop-resize; random numbers from torch's RNG (the global
one of the batch's device, or `generator`) so a checkpointed RNG state reproduces the views.
"""
from __future__ import annotations

import math

import torch

from cpm.config import AugmentConfig


def _gather_time(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (N, C, T, V, M), idx (N, T') long -> x[n, :, idx[n]]."""
    n, c, _, v, m = x.shape
    return x.gather(2, idx.view(n, 1, -1, 1, 1).expand(n, c, idx.shape[1], v, m))


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(N, 3) radians -> (N, 3, 3) Rz @ Ry @ Rx (same convention as transforms.rotation_matrix)."""
    c, s = angles.cos(), angles.sin()
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).view(-1, 3, 3)
    ry = torch.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).view(-1, 3, 3)
    rz = torch.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ ry @ rx


class BatchAugment:
    """Callable on a torch batch (N, C, T, V, M); returns a new augmented batch on the same device and dtype.

    Same pipeline and distributions as `NumpyAugment`: crop-resize, temporal crop, rotation, shear, scale, motion scale,
    joint mask, noise, posture jitter (each off when its `AugmentConfig` field is 0). `coords` = 2 for 2-D keypoints:
    the maps act on the (x, y) block, a score channel is left alone (see cpm/data/transforms.py).
    """

    def __init__(self, cfg: AugmentConfig, generator: torch.Generator | None = None, coords: int = 3):
        self.cfg, self.coords = cfg, coords
        self.generator = generator

    def _rand(self, *shape: int, like: torch.Tensor) -> torch.Tensor:
        """U[0, 1) on `like`'s device; drawn on the generator's device when one is given (CPU generators work
        for CUDA batches)."""
        dev = self.generator.device if self.generator is not None else like.device
        return torch.rand(shape, generator=self.generator, device=dev, dtype=torch.float32).to(like.device)

    def _randn(self, *shape: int, like: torch.Tensor) -> torch.Tensor:
        dev = self.generator.device if self.generator is not None else like.device
        return torch.randn(shape, generator=self.generator, device=dev, dtype=torch.float32).to(like.device)

    def shear_matrices(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """(N, 3, 3): unit diagonal, off-diagonal ~ U(-s, s)."""
        v = (self._rand(n, 6, like=like) * 2 - 1) * self.cfg.shear
        one = torch.ones(n, 1, dtype=v.dtype, device=v.device)
        # row-major 3x3 = [1, v0, v1, v2, 1, v3, v4, v5, 1]: built by concatenation, since a boolean-mask
        # assignment runs aten::nonzero, a device-to-host sync on CUDA in every training step
        return torch.cat([one, v[:, :3], one, v[:, 3:], one], dim=1).view(n, 3, 3)

    def crop_starts(self, n: int, pad: int, like: torch.Tensor) -> torch.Tensor:
        """(N,) long, uniform on {0, ..., 2 * pad}."""
        return (self._rand(n, like=like) * (2 * pad + 1)).long().clamp_(max=2 * pad)

    def temporal_crop(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[0], x.shape[2]
        pad = t // self.cfg.crop_pad_ratio
        j = self.crop_starts(n, pad, x)[:, None] + torch.arange(t, device=x.device)
        idx = torch.where(j < pad, pad - 1 - j, torch.where(j < pad + t, j - pad, 2 * t + pad - 1 - j))
        return _gather_time(x, idx)

    def crop_resize(self, x: torch.Tensor) -> torch.Tensor:
        """Window of round(r * T) frames, r ~ U(min, 1), uniform start, linearly resized back to T."""
        n, t = x.shape[0], x.shape[2]
        lo = self.cfg.crop_resize_min
        ratio = lo + (1 - lo) * self._rand(n, like=x)
        length = torch.round(ratio * t).clamp_(1, t).long()
        start = (self._rand(n, like=x) * (t - length + 1)).long().clamp_(max=t - length)
        # the same sample positions as transforms.resize_frames (align_corners=False, clamped)
        pos = (torch.arange(t, device=x.device) + 0.5)[None] * (length[:, None] / t) - 0.5
        pos = torch.minimum(pos.clamp(min=0), (length - 1)[:, None].to(pos.dtype))
        i0 = pos.floor().long()
        i1 = torch.minimum(i0 + 1, (length - 1)[:, None])
        w = (pos - i0).to(x.dtype).view(n, 1, t, 1, 1)
        return _gather_time(x, start[:, None] + i0) * (1 - w) + _gather_time(x, start[:, None] + i1) * w

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or not self.coords <= x.shape[1] <= 3:
            c = "3" if self.coords == 3 else "2 or 3"
            raise ValueError(f"BatchAugment: expected a batch (N, {c}, T, V, M), found shape {tuple(x.shape)}")
        cfg, n, d = self.cfg, x.shape[0], self.coords
        if cfg.crop_resize_min > 0:
            x = self.crop_resize(x)
        if cfg.crop_pad_ratio > 0:
            x = self.temporal_crop(x)
        linear = None
        if cfg.rotation > 0:
            angles = (self._rand(n, 3, like=x) * 2 - 1) * math.radians(cfg.rotation)
            linear = rotation_matrices(angles)
        if cfg.shear > 0:
            sh = self.shear_matrices(n, x)
            linear = sh if linear is None else sh @ linear  # rotation first, then shear (as NumpyAugment)
        if cfg.scale > 0:
            sc = torch.diag_embed(1 + (self._rand(n, 3, like=x) * 2 - 1) * cfg.scale)
            linear = sc if linear is None else sc @ linear  # then the per-axis scale
        if linear is not None:  # 2-D: the (x, y) block on the coordinates, a score channel unchanged
            mapped = torch.bmm(linear[:, :d, :d].to(x.dtype), x[:, :d].reshape(n, d, -1)).view_as(x[:, :d])
            x = mapped if d == x.shape[1] else torch.cat([mapped, x[:, d:]], dim=1)
        if cfg.motion_scale > 0:  # one amplitude factor per clip about each joint's temporal mean
            present = self._present(x)
            mean = (x * present).sum(dim=2, keepdim=True) / present.sum(dim=2, keepdim=True).clamp(min=1)
            a = 1 + (self._rand(n, 1, 1, 1, 1, like=x) * 2 - 1) * cfg.motion_scale
            x = x + (a.to(x.dtype) - 1) * (x - mean) * present
        if cfg.joint_mask_prob > 0:
            keep = self._rand(n, 1, 1, x.shape[3], 1, like=x) >= cfg.joint_mask_prob
            x = x * keep.to(x.dtype)
        if cfg.noise_std > 0:
            x = x + self._randn(*x.shape, like=x).to(x.dtype) * cfg.noise_std * self._present(x)
        if cfg.posture_jitter > 0:  # one offset per (clip, coordinate, joint, person), constant in time
            offset = self._randn(n, x.shape[1], 1, x.shape[3], x.shape[4], like=x).to(x.dtype)
            x = x + offset * cfg.posture_jitter * self._present(x)
        return x

    def _present(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, 1, M) float: 1 on the coordinate channels of frames where the person has a non-zero joint."""
        present = (x.abs().sum(dim=(1, 3), keepdim=True) > 0).to(x.dtype)  # (N, 1, T, 1, M)
        return present * (torch.arange(x.shape[1], device=x.device) < self.coords).to(x.dtype).view(1, -1, 1, 1, 1)
