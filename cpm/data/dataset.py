"""`build_dataset(cfg, split)`: any supported format -> Dataset of (x (C, T, V, M) float32, label), joint stream.

C follows `data.channels`: 3 for "xyz" (3-D joints) and "xys" (2-D x, y + keypoint score), 2 for "xy".
"""
from __future__ import annotations

import copy
import typing

import numpy as np
import torch
from torch.utils.data import Dataset

from cpm.config.schema import Channels
from cpm.data.normalize import normalize_view, resize_frames
from cpm.data.pyskl import read_pyskl
from cpm.data.readers import Samples, read_arrays, read_ctrgcn, read_msr_action3d
from cpm.errors import CPMError
from cpm.graph import Layout, layout_of

FORMATS = ("synthetic", "arrays", "ctrgcn", "pyskl", "msr_action3d")
CHANNELS = typing.get_args(Channels)  # data.channels: 3-D joints | 2-D keypoints + score | x, y only


def coord_dims(channels: str) -> int:
    """How many leading channels are spatial coordinates: 3 for "xyz", 2 for "xys" and "xy" (the score of
    "xys" is no coordinate: centring, shear and rotation leave it alone)."""
    return 3 if channels == "xyz" else 2


def resize_valid_frames(x: np.ndarray, num_frames: int) -> np.ndarray:
    """Linearly resample the valid frames (first to last non-zero frame) of (C, T, V, M) to `num_frames`.

    Sample positions follow F.interpolate(mode='linear', align_corners=False), the resize of the
    CrosSCLR/AimCLR feeders; arrays already `num_frames` long are returned unchanged.
    """
    if x.shape[1] == num_frames:
        return x
    valid = np.flatnonzero(np.any(x != 0, axis=(0, 2, 3)))
    if valid.size == 0:  # an empty sequence read lazily from a large array: zeros, as the st-gcn feeders give
        return np.zeros((x.shape[0], num_frames) + x.shape[2:], dtype=np.float32)
    return resize_frames(x[:, valid[0]: valid[-1] + 1], num_frames).astype(np.float32)


def body_geometry(samples: Samples, layout: Layout, dims: int = 3, clips: int = 64) -> tuple[float, float]:
    """(uncentred ratio, body extent): medians over up to `clips` evenly spaced clips (first person, valid frames,
    the first `dims` channels) of the mean distance of the joints from the layout's centre joint (the extent, in
    the data's units: ~0.5-0.7 for Kinect skeletons in metres) and of the centre joint's distance from the origin
    over that extent (~0 for centred data such as the NTU 'position' arrays, several for camera coordinates)."""
    n = len(samples.data)
    ratios, extents = [], []
    for i in np.unique(np.linspace(0, n - 1, min(clips, n)).astype(int)) if n else []:
        x = np.asarray(samples.data[i], dtype=np.float64)[:dims, :, :, :1]  # first person (dims, T, V, 1)
        x = x[:, np.abs(x).sum(axis=(0, 2, 3)) > 0]  # valid frames
        if x.shape[1] == 0 or not np.isfinite(x).all():
            continue
        centre = x[:, :, layout.center: layout.center + 1]
        extent = np.linalg.norm(x - centre, axis=0).mean()
        extents.append(extent)
        ratios.append(np.linalg.norm(centre, axis=0).mean() / max(extent, 1e-9))
    return (float(np.median(ratios)), float(np.median(extents))) if ratios else (0.0, 0.0)


# data.normalize=auto centres clips whose centre joint sits further from the origin than this many body extents
UNCENTRED_RATIO = 1.0
# Augmentations that are lengths in the data's units; the configs set them for metres (MSR Action3D's jitter 0.08
# is 12.5 % of its extent). Outside these fractions (about 6x less, 4x more) the data is likely in other units.
LENGTH_AUGMENTS = ("posture_jitter", "noise_std")
LENGTH_FRACTION = (0.02, 0.5)
METRE_EXTENT = 0.64  # body_geometry's extent of MSR Action3D in metres (the demo's synthetic NTU bodies: 0.61)


def units_note(augment, extent: float, source: str) -> str:
    """A note when a length augmentation is far out of proportion to the body (data in mm or pixels), else ""."""
    for key in LENGTH_AUGMENTS:
        value = getattr(augment, key)
        if value <= 0 or extent <= 0 or LENGTH_FRACTION[0] <= value / extent <= LENGTH_FRACTION[1]:
            continue
        return (f"note: data.augment.{key}={value:g} is a length in the data's units, and the joints of {source} lie "
                f"{extent:.3g} units from the centre joint on average (Kinect metres: ~{METRE_EXTENT}), so it is "
                f"{100 * value / extent:.2g} % of that; it was set for metres, so scale it with the data's units "
                f"(the same share: --set data.augment.{key}={value / METRE_EXTENT * extent:.3g})")
    return ""


def fit_persons(x: np.ndarray, max_persons: int) -> np.ndarray:
    """Keep the first `max_persons` bodies of (C, T, V, M), zero-padding when there are fewer."""
    m = x.shape[-1]
    if m == max_persons:
        return x
    if m > max_persons:
        return x[..., :max_persons]
    return np.concatenate([x, np.zeros(x.shape[:-1] + (max_persons - m,), dtype=x.dtype)], axis=-1)


class SkeletonDataset(Dataset):
    """Items (x: float32 tensor (C, num_frames, V, max_persons), label: int), not augmented.

    `channels` ("xyz" | "xys" | "xy") must match what the samples hold ("xy" keeps the first two of either);
    `transform` (optional) is a per-sample numpy callable applied before the conversion to a tensor.
    """

    def __init__(self, samples: Samples, layout: Layout, num_frames: int, max_persons: int,
                 num_classes: int | None = None, transform=None, normalize: bool = False, channels: str = "xyz",
                 normalize_mode: tuple[str, str] = ("frame", "frame")):
        self.samples, self.layout, self.transform, self.normalize = samples, layout, transform, normalize
        self.normalize_mode = normalize_mode  # (data.normalize_center, data.normalize_rotation)
        check_channels(channels, samples)
        self.channels = channels
        self.num_frames, self.max_persons = num_frames, max_persons
        self.labels = samples.labels
        self.names, self.num_skipped = samples.names, samples.num_skipped
        top = int(self.labels.max()) + 1 if self.labels.size else 0
        self.num_classes = int(num_classes or samples.num_classes or top)
        if top > self.num_classes:
            raise CPMError(f"{samples.source}: label {top - 1} found, but num_classes is {self.num_classes}")
        if len(samples.data) != self.labels.size:
            raise CPMError(f"{samples.source}: {len(samples.data)} samples but {self.labels.size} labels")

    def __len__(self) -> int:
        return int(self.labels.size)

    def without_transform(self) -> "SkeletonDataset":
        """The same clips, not augmented (a shallow copy sharing the samples)."""
        plain = copy.copy(self)
        plain.transform = None
        return plain

    def __getitem__(self, index: int):
        x = np.array(self.samples.data[index], dtype=np.float32)  # a private copy: transforms may work in place
        if self.samples.lazy and not np.isfinite(x).all():
            raise CPMError(f"{self.samples.source}: sample {index} has NaN/inf coordinates")
        if self.channels == "xy":
            x = x[:2]
        x = fit_persons(resize_valid_frames(x, self.num_frames), self.max_persons)
        if self.normalize:
            x = normalize_view(x, self.layout, coord_dims(self.channels), *self.normalize_mode)
        if self.transform is not None:
            x = self.transform(x)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(self.labels[index])


def check_channels(channels: str, samples: Samples) -> None:
    """One-line error when `data.channels` asks for what the file does not hold."""
    if channels not in CHANNELS:
        raise CPMError(f"data.channels: expected one of {', '.join(CHANNELS)}, got '{channels}'")
    if channels != "xy" and channels != samples.channels:
        held = {"xyz": "3-D joints (x, y, z)", "xys": "2-D keypoints with scores (x, y, score)"}[samples.channels]
        raise CPMError(f"data.channels='{channels}': {samples.source} holds {held}; set data.channels to "
                       f"'{samples.channels}' or 'xy' (and model.in_channels to 3 or 2)")


def build_dataset(cfg, split: str, transform=None) -> SkeletonDataset:
    """The `split` ("train" | "test") of the data described by `cfg` (a DataConfig)."""
    if split not in ("train", "test"):
        raise CPMError(f"build_dataset: split must be 'train' or 'test', got '{split}'")
    if cfg.format not in FORMATS:
        raise CPMError(f"data.format: unknown format '{cfg.format}', expected one of {', '.join(FORMATS)}")
    if cfg.format != "synthetic" and not cfg.root:
        raise CPMError(f"data.root: format '{cfg.format}' needs data.root (a folder or file path), got ''")
    layout = layout_of(cfg)
    v = layout.num_joints
    name = cfg.train_split if split == "train" else cfg.test_split
    scan = cfg.scan
    if cfg.format == "synthetic":
        from cpm.data.synthetic import synthetic_samples

        if v != 25:
            raise CPMError(f"data.layout: the synthetic dataset has NTU's 25 joints, layout '{layout.name}' has {v}")
        samples = synthetic_samples(cfg.synthetic, split, cfg.num_frames, cfg.validation)
    elif cfg.format == "arrays":
        samples = read_arrays(cfg.root, name, v, array_name=cfg.array_name, scan=scan)
    elif cfg.format == "ctrgcn":
        samples = read_ctrgcn(cfg.root, split, v, scan=scan)
    elif cfg.format == "pyskl":
        samples = read_pyskl(cfg.root, name, v)
    else:
        if cfg.layout not in ("kinect_v1", "custom") and v == 20:  # kinect_sdk: MSR's joint count, another order
            raise CPMError(f"data.layout: msr_action3d files hold MSR's own joint order, layout 'kinect_v1'; "
                           f"got '{cfg.layout}'")
        samples = read_msr_action3d(cfg.root, split, v, validation=cfg.validation,
                                    validation_subjects=cfg.validation_subjects)
    normalize = cfg.normalize is True or cfg.format == "msr_action3d" and cfg.normalize == "auto"
    check_units = split == "train" and any(getattr(cfg.augment, key) > 0 for key in LENGTH_AUGMENTS)
    check_centred = cfg.normalize == "auto" and not normalize and cfg.channels == "xyz"
    if check_units or check_centred:  # up to 64 clips read: only when a note or data.normalize=auto needs them
        ratio, extent = body_geometry(samples, layout, coord_dims(cfg.channels))
    if check_units and (note := units_note(cfg.augment, extent, samples.source)):
        print(note)
    if check_centred:
        normalize = ratio > UNCENTRED_RATIO
        if normalize:  # camera coordinates: uncentred clips collapsed training on a real Kinect set (issue 16)
            print(f"note: {split} clips of {samples.source} are not centred (centre joint {ratio:.1f} body extents "
                  "from the origin): centring them at load (data.normalize=auto; false keeps them as they are)")
    if normalize and split == "train" and layout.shoulders is None and cfg.channels == "xyz" \
            and cfg.normalize_rotation != "none":
        print(f"note: layout '{layout.name}' names no shoulders, so the clips are centred but not turned to face "
              "the same way (data.layout_shoulders: [left, right] turns them)")
    return SkeletonDataset(samples, layout, cfg.num_frames, cfg.max_persons,
                           num_classes=cfg.num_classes or None, transform=transform, normalize=normalize,
                           channels=cfg.channels, normalize_mode=(cfg.normalize_center, cfg.normalize_rotation))
