"""Skeleton augmentations, per sample in numpy (C, T, V, M) and batched in torch (N, C, T, V, M).

Shear and temporal crop follow CrosSCLR/AimCLR `feeder/tools.py` (`shear`, `temperal_crop`); rotation, noise,
joint masking, crop-resize and per-axis scale are the lineage's optional extras, off by default (`AugmentConfig`). The two
implementations draw from the same distributions (tests compare their statistics); all of them keep absent
(all-zero) persons and padded frames at zero.

2-D keypoints (`coords=2`, data.channels xys or xy) are treated as a skeleton lying in the z = 0 plane: the
3x3 shear/rotation acts on (x, y, 0) and is read back in x and y, i.e. its top-left 2x2 block; a score channel
is neither mapped nor noised. The random draws are the same as for 3-D data.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from cpm.config import AugmentConfig
from cpm.data.batch_augment import BatchAugment  # noqa: F401  (public here: the torch twin of NumpyAugment)
from cpm.data.normalize import resize_frames


def shear_matrix(rng: np.random.Generator, s: float) -> np.ndarray:
    """3x3 with unit diagonal and off-diagonal entries ~ U(-s, s)."""
    r = np.eye(3)
    r[~np.eye(3, dtype=bool)] = rng.uniform(-s, s, size=6)
    return r


def scale_matrix(rng: np.random.Generator, s: float) -> np.ndarray:
    """3x3 diagonal of per-axis factors ~ U(1 - s, 1 + s)."""
    return np.diag(rng.uniform(1 - s, 1 + s, size=3))


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """R = Rz @ Ry @ Rx for angles (ax, ay, az) in radians."""
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def apply_linear(x: np.ndarray, r: np.ndarray, coords: int = 3) -> np.ndarray:
    """out[c] = sum_d r[c, d] x[d] over the first `coords` channels: the lineage's `x.transpose(1, 2, 3, 0) @ R.T`
    (zeros stay zero); with coords=2 the (x, y) block of r, further channels (a score) unchanged."""
    if coords == x.shape[0] == r.shape[0]:
        return (x.transpose(1, 2, 3, 0) @ r.T).transpose(3, 0, 1, 2)
    out = x.copy()
    out[:coords] = (x[:coords].transpose(1, 2, 3, 0) @ r[:coords, :coords].T).transpose(3, 0, 1, 2)
    return out


def shear(x: np.ndarray, rng: np.random.Generator, s: float = 0.5, coords: int = 3) -> np.ndarray:
    return apply_linear(x, shear_matrix(rng, s), coords)


def scale(x: np.ndarray, rng: np.random.Generator, s: float, coords: int = 3) -> np.ndarray:
    return apply_linear(x, scale_matrix(rng, s), coords)


def rotate(x: np.ndarray, rng: np.random.Generator, max_degrees: float, coords: int = 3) -> np.ndarray:
    """Rotation about x, y and z by angles ~ U(-max, max) degrees each."""
    return apply_linear(x, rotation_matrix(np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=3))), coords)


def mirror_crop_indices(t: int, pad: int, start: int | np.ndarray) -> np.ndarray:
    """Source frame of each output frame when cropping T frames at `start` out of the sequence mirror-padded by
    `pad` frames at both ends ([pad-1..0], [0..T-1], [T-1..T-pad], as `temperal_crop`)."""
    j = np.asarray(start)[..., None] + np.arange(t)
    return np.where(j < pad, pad - 1 - j, np.where(j < pad + t, j - pad, 2 * t + pad - 1 - j))


def temporal_crop(x: np.ndarray, rng: np.random.Generator, ratio: int = 6) -> np.ndarray:
    """Mirror-pad T // ratio frames at both ends, crop T frames at a start ~ U{0..2 * pad}."""
    t = x.shape[1]
    pad = t // ratio
    start = int(rng.integers(0, 2 * pad + 1))
    return x[:, mirror_crop_indices(t, pad, start)]


def crop_resize(x: np.ndarray, rng: np.random.Generator, min_ratio: float) -> np.ndarray:
    """Random window of round(r * T) frames, r ~ U(min_ratio, 1), start uniform, resized back to T."""
    t = x.shape[1]
    length = int(np.clip(round(rng.uniform(min_ratio, 1.0) * t), 1, t))
    start = int(rng.integers(0, t - length + 1))
    return resize_frames(x[:, start: start + length], t)


def present_mask(x: np.ndarray) -> np.ndarray:
    """(1, T, 1, M) float: 1 where the person has any non-zero joint in that frame."""
    return (np.abs(x).sum(axis=(0, 2), keepdims=True) > 0).astype(x.dtype)


def gaussian_noise(x: np.ndarray, rng: np.random.Generator, std: float, coords: int = 3) -> np.ndarray:
    """Add N(0, std^2) to the first `coords` channels of present persons only (absent persons / padded frames
    and a score channel stay as they are)."""
    noise = rng.normal(0.0, std, size=x.shape).astype(x.dtype) * present_mask(x)
    noise[coords:] = 0
    return x + noise


def posture_jitter(x: np.ndarray, rng: np.random.Generator, std: float, coords: int = 3) -> np.ndarray:
    """Add one N(0, std^2) offset per (coordinate, joint, person), the same in every frame, to the first `coords`
    channels of present frames: the clip's static posture moves, its motion does not."""
    c, _, v, m = x.shape
    offset = rng.normal(0.0, std, size=(c, 1, v, m)).astype(x.dtype)
    offset[coords:] = 0
    return x + offset * present_mask(x)


def motion_scale(x: np.ndarray, rng: np.random.Generator, s: float, coords: int = 3) -> np.ndarray:
    """Scale every joint's motion about its mean over the present frames by one a ~ U(1 - s, 1 + s): the posture
    stays, the amplitude changes. Absent frames and a score channel stay as they are."""
    a = rng.uniform(1 - s, 1 + s)
    present = present_mask(x)
    mean = (x * present).sum(axis=1, keepdims=True) / np.maximum(present.sum(axis=1, keepdims=True), 1)
    delta = (a - 1) * (x - mean) * present
    delta[coords:] = 0
    return (x + delta).astype(x.dtype)


def joint_mask(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Zero each joint (for the whole clip and all persons) with probability p."""
    keep = rng.random(x.shape[2]) >= p
    return x * keep[None, None, :, None].astype(x.dtype)


class NumpyAugment:
    """Per-sample pipeline (the reference style, run in DataLoader workers) built from `AugmentConfig`.

    Order: crop-resize, temporal crop, rotation, shear, scale, motion scale, joint mask, noise, posture jitter. An
    explicit `rng` serves the process that built the augment; any other process (a DataLoader worker, or all of them
    when `rng` is None) seeds its own generator from `torch.initial_seed()` - distinct per worker and reproducible
    from the torch seed - so forked workers never repeat each other's draws.
    """

    def __init__(self, cfg: AugmentConfig, rng: np.random.Generator | None = None, coords: int = 3):
        self.cfg, self.coords = cfg, coords  # coords: 3 for 3-D joints, 2 for 2-D keypoints (module docstring)
        self._rng, self._pid = rng, os.getpid() if rng is not None else None

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None or self._pid != os.getpid():
            self._rng, self._pid = np.random.default_rng(torch.initial_seed()), os.getpid()
        return self._rng

    def __call__(self, x: np.ndarray) -> np.ndarray:
        cfg, rng, dtype = self.cfg, self.rng, x.dtype
        if cfg.crop_resize_min > 0:
            x = crop_resize(x, rng, cfg.crop_resize_min)
        if cfg.crop_pad_ratio > 0:
            x = temporal_crop(x, rng, cfg.crop_pad_ratio)
        if cfg.rotation > 0:
            x = rotate(x, rng, cfg.rotation, self.coords)
        if cfg.shear > 0:
            x = shear(x, rng, cfg.shear, self.coords)
        if cfg.scale > 0:
            x = scale(x, rng, cfg.scale, self.coords)
        if cfg.motion_scale > 0:
            x = motion_scale(x, rng, cfg.motion_scale, self.coords)
        if cfg.joint_mask_prob > 0:
            x = joint_mask(x, rng, cfg.joint_mask_prob)
        if cfg.noise_std > 0:
            x = gaussian_noise(x, rng, cfg.noise_std, self.coords)
        if cfg.posture_jitter > 0:
            x = posture_jitter(x, rng, cfg.posture_jitter, self.coords)
        return np.ascontiguousarray(x, dtype=dtype)
