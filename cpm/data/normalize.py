"""Per-clip geometry in one place: centring, shoulder alignment and frame resizing, used at load (`normalize_view`)
and by the raw-release preparation (the lineage's 50-frame `position` preprocessing, CrosSCLR
feeder/preprocess_ntu.py, used by AimCLR, CMD, ISC).

Steps, in the lineage's order: subtract the centre joint of each person in each frame (`data_type='relative'`),
resize the valid frames to N with linear interpolation (cv2.INTER_LINEAR semantics), rotate each frame about the
y-axis so the shoulder line (left 1-based 5 -> right 1-based 9) points along +x (angle sign per clip as the
lineage, or per frame).
"""
from __future__ import annotations

import numpy as np

from cpm.graph import Layout

# 1-based 21 "spine at the shoulders": the lineage's centre (CrosSCLR `center = data[:, :, 20]`), also the
# ST-GCN NTU graph centre; not 1-based 2 "middle of spine".
CENTER_JOINT = 20
LEFT_SHOULDER, RIGHT_SHOULDER = 4, 8  # 0-based indices of 1-based joints 5 and 9


def valid_length(data: np.ndarray) -> int:
    """Frames up to the last one where any person has a non-zero coordinate; data is (C, T, V, M).

    (The lineage counts person 0's non-zero frames; the same on prepared data, whose valid frames are contiguous.)
    """
    nonzero = np.flatnonzero(np.abs(data).sum(axis=(0, 2, 3)) > 0)
    return int(nonzero[-1]) + 1 if nonzero.size else 0


def resize_frames(data: np.ndarray, length: int) -> np.ndarray:
    """Linearly resample axis 1 (time) of (C, T, ...) to `length` frames.

    Same sample positions as cv2.resize(INTER_LINEAR) / F.interpolate(align_corners=False): output frame i
    reads source position (i + 0.5) * T / length - 0.5, clamped to [0, T - 1].
    """
    t_in = data.shape[1]
    if t_in == 0:
        raise ValueError("resize_frames: cannot resample an empty sequence")
    pos = np.clip((np.arange(length) + 0.5) * (t_in / length) - 0.5, 0.0, t_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t_in - 1)
    w = (pos - i0).reshape((1, length) + (1,) * (data.ndim - 2))
    return data[:, i0] * (1.0 - w) + data[:, i1] * w


ROTATIONS = ("clip", "frame")


def align_shoulders(data: np.ndarray, left: int = LEFT_SHOULDER, right: int = RIGHT_SHOULDER,
                    rotation: str = "frame") -> np.ndarray:
    """Rotate every frame of every person about y so that right - left shoulder points along +x.

    Angle of frame t: arccos of the shoulder vector's x over its x-z length. Its sign:
    'frame': per frame, so the shoulders are parallel to x in every frame (z component 0); frames where the
    shoulder vector has no x-z extent (e.g. absent persons) are left unrotated.
    'clip': the lineage's (CrosSCLR/AimCLR feeder/NTUDatasets.py `parallel_skeleton`): one sign per person and
    clip, from the sum over frames of the z components, and the length taken + 1e-4 as there; frames whose own
    sign differs end up turned the wrong way (by twice their angle). Identical whenever the signs agree.
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation: expected one of {', '.join(ROTATIONS)}, got {rotation!r}")
    v = data[:, :, right] - data[:, :, left]  # (3, T, M)
    if rotation == "clip":
        theta = np.arccos(v[0] / (np.hypot(v[0], v[2]) + 1e-4))
        theta = np.where(v[2].sum(axis=0) >= 0, -theta, theta)  # (T, M), sign per person
        c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    else:
        c, s = _facing(v[0], v[2])
        c, s = c[:, None], s[:, None]  # (T, 1, M) broadcast over joints
    return _rotate_y(data, c, s)


def _facing(vx: np.ndarray, vz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and sine of the rotation about y that turns the vector (vx, ., vz) onto +x; (1, 0), no rotation,
    where it has no x-z extent."""
    norm = np.hypot(vx, vz)
    ok = norm > 1e-8
    safe = np.where(ok, norm, 1.0)
    return np.where(ok, vx / safe, 1.0), np.where(ok, -vz / safe, 0.0)


def _rotate_y(data: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Rotate (3, T, V, M) about y by the angle of cosine c and sine s (broadcast over T, V, M)."""
    x, y, z = data[0], data[1], data[2]
    # R_y = [[c, 0, -s], [0, 1, 0], [s, 0, c]] as in the lineage's _y_transmat
    return np.stack([c * x - s * z, y, s * x + c * z])


def align_clip(data: np.ndarray, left: int = LEFT_SHOULDER, right: int = RIGHT_SHOULDER) -> np.ndarray:
    """One rotation about y per person and clip, putting the shoulder line averaged over the person's present
    frames along +x (2s-AGCN's pre_normalization takes the first frame's; the mean is steadier on Kinect noise):
    unlike per-frame alignment, it keeps the body's turns within the clip. Persons without an x-z shoulder extent
    are left unrotated."""
    v = (data[:, :, right] - data[:, :, left]).sum(axis=1)  # (3, M); absent frames add zeros
    return _rotate_y(data, *_facing(v[0], v[2]))


def normalize_sequence(data: np.ndarray, num_frames: int = 50, center_joint: int = CENTER_JOINT,
                       left: int = LEFT_SHOULDER, right: int = RIGHT_SHOULDER, rotation: str = "frame") -> np.ndarray:
    """(C=3, T, V, M) joint data -> (3, num_frames, V, M) float32 `position` array (all-zero input -> zeros);
    `rotation`: see `align_shoulders`."""
    c, _, v, m = data.shape
    length = valid_length(data)
    if length == 0:
        return np.zeros((c, num_frames, v, m), dtype=np.float32)
    x = data[:, :length].astype(np.float64)
    x = x - x[:, :, center_joint: center_joint + 1]
    x = resize_frames(x, num_frames)
    return align_shoulders(x, left, right, rotation).astype(np.float32)


CENTERS = ("frame", "start")
ALIGNMENTS = ("frame", "clip", "none")


def normalize_view(x: np.ndarray, layout: Layout, coords: int = 3, center: str = "frame",
                   rotation: str = "frame") -> np.ndarray:
    """Centre every person on the layout's centre joint and rotate about y so the shoulders lie along +x; absent
    (all-zero) persons and frames stay zero.

    center 'frame': the centre joint of every frame (the lineage's 'position' preprocessing, 2s-AGCN);
    'start': the centre joint at the person's first present frame, for the whole clip (SGN / CTR-GCN), which
    keeps the body's travel. rotation 'frame': every frame (CrosSCLR's 'position'); 'clip': one rotation per
    clip (`align_clip`), which keeps the body's turns; 'none'.
    With `coords` = 2 (2-D keypoints) only x and y are centred and nothing is rotated: a rotation about the
    vertical axis needs depth, and an in-plane one would erase whether the person stands or lies.
    """
    if center not in CENTERS or rotation not in ALIGNMENTS:
        raise ValueError(f"normalize_view: center in {CENTERS}, rotation in {ALIGNMENTS}; got {center!r}, {rotation!r}")
    present = np.any(x != 0, axis=(0, 2), keepdims=True)  # (1, T, 1, M)
    x = x.copy()
    c = x[:coords, :, layout.center: layout.center + 1]  # (coords, T, 1, M)
    if center == "start":
        first = present[0, :, 0].argmax(axis=0)  # (M,): first present frame (0 for an absent person)
        c = np.take_along_axis(c, first[None, None, None, :], axis=1)
    x[:coords] = (x[:coords] - c) * present
    if layout.shoulders is not None and coords == 3 and rotation != "none":
        x = align_shoulders(x, *layout.shoulders) if rotation == "frame" else align_clip(x, *layout.shoulders)
    return x.astype(np.float32)
