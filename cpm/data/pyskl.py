"""pyskl annotation pickles (Duan et al., pyskl: tools/data/README.md), 3-D and 2-D.

A file is `{'split': {name: [frame_dir, ...]}, 'annotations': [{'frame_dir', 'label', 'img_shape' (h, w),
'total_frames', 'keypoint' (M, T, V, C), 'keypoint_score' (M, T, V) for 2-D}, ...]}`. 3-D keypoints (C=3,
NTU's `ntu60_3danno.pkl`) are read as (x, y, z). 2-D keypoints (C=2: NTU-2D, Kinetics, GYM, UCF101, HMDB51
in COCO-17 order) are read as (x, y, score), with x and y mapped from pixels to [-1, 1] by the clip's
`img_shape` as pyskl's PreNormalize2D does (default (1080, 1920)); absent joints (x = y = score = 0) stay 0.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cpm.data.readers import Samples, _as_labels, _check_float, _in_memory_checks
from cpm.errors import CPMError

DEFAULT_IMG_SHAPE = (1080, 1920)  # (h, w) pyskl's PreNormalize2D assumes when an annotation has no img_shape


def _load(path: Path) -> dict:
    if not path.is_file():
        raise CPMError(f"pyskl annotation file not found: {path} (expected a .pkl with 'split' and 'annotations')")
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as err:
        raise CPMError(f"{path}: not a readable pickle ({err})") from None
    if not isinstance(obj, dict) or "split" not in obj or "annotations" not in obj:
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise CPMError(f"{path}: expected a dict with keys 'split' and 'annotations', found {found}")
    return obj


def normalize_2d(kp: np.ndarray, score: np.ndarray, img_shape) -> np.ndarray:
    """(M, T, V, 2) pixels -> [-1, 1] by the image centre and half size (pyskl PreNormalize2D); joints with
    x = y = score = 0 (no detection, padded frames) stay at 0 so they still read as absent."""
    h, w = (float(s) for s in img_shape)
    half = np.array([w / 2, h / 2], dtype=np.float64)
    present = (np.abs(kp).sum(-1) + np.abs(score)) > 0
    return ((kp - half) / half * present[..., None]).astype(np.float32)


def _keypoints(ann: dict, where: str, num_joints: int) -> tuple[np.ndarray, str]:
    """(C=3, T, V, M) float32 of one annotation and what its channels are ('xyz' or 'xys')."""
    for k in ("label", "keypoint"):
        if k not in ann:
            raise CPMError(f"{where}: missing key '{k}' (expected frame_dir, label, keypoint, total_frames)")
    kp = np.asarray(ann["keypoint"])
    if kp.ndim != 4 or kp.shape[2] != num_joints or kp.shape[3] not in (2, 3):
        raise CPMError(f"{where}: keypoint has shape {kp.shape}, expected (M, T, {num_joints}, 3) for 3-D or "
                       f"(M, T, {num_joints}, 2) with keypoint_score for 2-D")
    _check_float(kp, f"{where}: keypoint", f"(M, T, {num_joints}, 2 or 3)")
    kind = "xyz"
    if kp.shape[3] == 2:
        score = np.asarray(ann.get("keypoint_score", np.zeros(0)))
        if score.shape != kp.shape[:3]:
            raise CPMError(f"{where}: 2-D keypoints need 'keypoint_score' of shape {kp.shape[:3]}, "
                           f"found {'none' if 'keypoint_score' not in ann else score.shape}")
        img_shape = ann.get("img_shape", DEFAULT_IMG_SHAPE)
        if np.shape(img_shape) != (2,) or min(img_shape) <= 0:
            raise CPMError(f"{where}: img_shape must be (height, width) > 0, found {img_shape!r}")
        kp = np.concatenate([normalize_2d(kp, score, img_shape), score[..., None].astype(np.float32)], axis=-1)
        kind = "xys"
    total = int(ann.get("total_frames", kp.shape[1]))
    if not 0 <= total <= kp.shape[1]:
        raise CPMError(f"{where}: total_frames {total} is not in [0, {kp.shape[1]}] (the keypoint frames)")
    return np.ascontiguousarray(kp[:, :total].transpose(3, 1, 2, 0), dtype=np.float32), kind


def read_pyskl(path, split: str, num_joints: int) -> Samples:
    """The clips of split `split` (their `total_frames` first frames); `Samples.channels` says 'xyz' or 'xys'.

    One-line errors for a missing split (naming the available ones), a split entry without an annotation,
    a file mixing 2-D and 3-D keypoints, and malformed annotations; all-zero clips are dropped and counted.
    """
    path = Path(path)
    obj = _load(path)
    if split not in obj["split"]:
        raise CPMError(f"{path}: no split '{split}' (available: {', '.join(sorted(obj['split']))})")
    wanted = set(obj["split"][split])
    xs, ys, ns, kinds = [], [], [], set()
    for i, ann in enumerate(obj["annotations"]):
        if not isinstance(ann, dict) or ann.get("frame_dir") not in wanted:
            continue
        x, kind = _keypoints(ann, f"{path}: annotation {i} ({ann.get('frame_dir')})", num_joints)
        xs.append(x), ys.append(ann["label"]), ns.append(ann["frame_dir"])
        kinds.add(kind)
    lost = sorted(wanted - set(ns))
    if lost:
        raise CPMError(f"{path}: split '{split}' lists {len(lost)} clip(s) without an annotation, e.g. '{lost[0]}'")
    if len(kinds) > 1:
        raise CPMError(f"{path}: split '{split}' mixes 3-D (C=3) and 2-D (C=2 + keypoint_score) keypoints")
    xs, ys, ns, skipped = _in_memory_checks(xs, ys, ns, str(path))
    return Samples(xs, _as_labels(np.asarray(ys, dtype=np.int64), str(path)), str(path), names=ns,
                   num_skipped=skipped, channels=kinds.pop() if kinds else "xyz")
