"""Readers for the skeleton formats of this field; each converts at the boundary to samples (C=3, T, V, M).

(pyskl pickles, 3-D and 2-D, are read by cpm/data/pyskl.py.)

A reader returns `Samples`: `data[i]` is one float array (3, T_i, V, M_i) at its stored length (the dataset
resizes and pads it), plus int64 labels. Small formats are loaded and validated up front; the big st-gcn /
CTR-GCN arrays stay on disk (see cpm/data/lazy.py) and are checked per sample as they are read.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from cpm.config.schema import MSR_TRAIN_SUBJECTS
from cpm.data.lazy import FileRows, Subset, open_npy, open_npz_member, scan_rows
from cpm.errors import CPMError


@dataclass
class Samples:
    data: object  # indexable: data[i] -> float array (3, T, V, M)
    labels: np.ndarray  # int64 (N,)
    source: str  # file or folder the samples came from (for error messages)
    num_classes: int | None = None  # known from the format (one-hot width, MSR Action3D's 20); None = infer
    names: list | None = None  # sample names when the format stores them
    num_skipped: int = 0  # empty sequences (no body / all zeros) dropped at load
    lazy: bool = False  # NaN/inf not checked at load: the dataset checks each sample when it reads it
    channels: str = "xyz"  # what the 3 channels hold: "xyz" (3-D joints) or "xys" (2-D x, y + keypoint score)


def _as_labels(raw, where: str, n: int | None = None) -> np.ndarray:
    try:
        lab = np.asarray(raw)
    except (ValueError, TypeError) as err:
        raise CPMError(f"{where}: labels are not an array of integers ({err})") from None
    if lab.ndim != 1:
        raise CPMError(f"{where}: labels must be 1-D, found shape {lab.shape}")
    if lab.size and lab.dtype.kind == "f" and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
        lab = lab.astype(np.int64)  # integral floats (some exports) are accepted
    if lab.size and lab.dtype.kind not in "iu":
        raise CPMError(f"{where}: labels must be integers, found dtype {lab.dtype}")
    if lab.size and lab.min() < 0:
        raise CPMError(f"{where}: labels must be >= 0, found {int(lab.min())}")
    if n is not None and lab.size != n:
        raise CPMError(f"{where}: {lab.size} labels but {n} samples in the data")
    return lab.astype(np.int64)


def _check_float(arr: np.ndarray, path, expected: str) -> None:
    if arr.dtype.kind != "f":
        raise CPMError(f"{path}: dtype {arr.dtype}, expected a float array of shape {expected}")


def _in_memory_checks(samples: list, labels: list, names: list, where: str):
    """Reject NaN/inf (naming the sample), drop empty sequences; returns the kept lists and the skip count."""
    keep_x, keep_y, keep_n = [], [], []
    for i, (x, y, n) in enumerate(zip(samples, labels, names)):
        if not np.isfinite(x).all():
            raise CPMError(f"{where}: sample {i} ({n}) has NaN/inf coordinates")
        if x.size == 0 or not x.any():
            continue
        keep_x.append(x), keep_y.append(y), keep_n.append(n)
    return keep_x, keep_y, keep_n, len(samples) - len(keep_x)


def read_arrays(root, split: str, num_joints: int, array_name: str = "", scan: bool = False) -> Samples:
    """st-gcn / CrosSCLR / AimCLR: `{split}_position.npy` or `{split}_data.npy` (N, 3, T, V, M), memory-mapped,
    with `{split}_label.pkl` (pickle of (sample_names, labels)) or `{split}_label.npy`."""
    root = Path(root)
    names = [f"{split}_{array_name}.npy"] if array_name else [f"{split}_position.npy", f"{split}_data.npy"]
    expected = f"{' or '.join(names)} and {split}_label.pkl or {split}_label.npy"
    if not root.is_dir():
        raise CPMError(f"data folder not found: {root} (expected it to hold {expected})")
    data_path = next((root / n for n in names if (root / n).is_file()), None)
    label_path = next((root / n for n in (f"{split}_label.pkl", f"{split}_label.npy") if (root / n).is_file()), None)
    missing = ([" or ".join(names)] if data_path is None else []) + (
        [f"{split}_label.pkl or {split}_label.npy"] if label_path is None else [])
    if missing:
        raise CPMError(f"{root}: missing {' and '.join(missing)} (expected {expected})")
    arr = open_npy(data_path)
    shape = f"(N, 3, T, {num_joints}, M)"
    if arr.ndim != 5 or arr.shape[1] != 3 or arr.shape[3] != num_joints or arr.shape[4] < 1:
        raise CPMError(f"{data_path}: found shape {arr.shape}, expected {shape}")
    _check_float(arr, data_path, shape)
    sample_names = None
    if label_path.suffix == ".pkl":
        sample_names, raw = _load_label_pkl(label_path)
    else:
        raw = open_npy(label_path)
    labels = _as_labels(raw, str(label_path), arr.shape[0])
    rows = FileRows(arr, data_path)
    if not scan:
        return Samples(rows, labels, str(data_path), names=sample_names, lazy=True)
    keep = scan_rows(rows)
    return Samples(Subset(rows, keep), labels[keep], str(data_path),
                   names=None if sample_names is None else [sample_names[i] for i in keep],
                   num_skipped=len(rows) - len(keep))


def _load_label_pkl(path: Path):
    try:
        with open(path, "rb") as f:
            try:
                obj = pickle.load(f)
            except UnicodeDecodeError:  # label files written by Python 2 (original st-gcn release)
                f.seek(0)
                obj = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as err:
        raise CPMError(f"{path}: not a readable pickle ({err})") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2 and len(obj[0]) == len(obj[1])):
        raise CPMError(f"{path}: expected a pickle of (sample_names, labels) of equal length, "
                       f"found {type(obj).__name__}")
    return list(obj[0]), obj[1]


def read_ctrgcn(path, split: str, num_joints: int, scan: bool = False) -> Samples:
    """CTR-GCN .npz: `x_train`/`x_test` (N, T, M*V*3) frame-major (M=2 for NTU), one-hot `y_train`/`y_test`."""
    path = Path(path)
    key = "train" if split == "train" else "test"
    if not path.is_file():
        raise CPMError(f"CTR-GCN file not found: {path} (expected an .npz with x_train, y_train, x_test, y_test)")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {n[:-4] for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError) as err:
        raise CPMError(f"{path}: not a readable .npz file ({err})") from None
    for k in (f"x_{key}", f"y_{key}"):
        if k not in members:
            raise CPMError(f"{path}: missing array '{k}' (found {sorted(members)}; "
                           "expected x_train, y_train, x_test, y_test)")
    x = open_npz_member(path, f"x_{key}")
    shape = f"(N, T, M*{num_joints}*3)"
    if x.ndim != 3 or x.shape[2] == 0 or x.shape[2] % (3 * num_joints):
        raise CPMError(f"{path}: x_{key} has shape {x.shape}, expected {shape}")
    _check_float(x, f"{path}: x_{key}", shape)
    y = np.asarray(open_npz_member(path, f"y_{key}"))
    num_classes = None
    if y.ndim == 2:  # one-hot, as CTR-GCN's feeder expects (np.where(y > 0)[1])
        hits = (y > 0).sum(axis=1)
        if y.shape[0] and (hits != 1).any():
            bad = int(np.flatnonzero(hits != 1)[0])
            raise CPMError(f"{path}: y_{key} row {bad} is not one-hot ({int(hits[bad])} positive entries)")
        num_classes, y = y.shape[1], np.argmax(y, axis=1)
    labels = _as_labels(y, f"{path}: y_{key}", x.shape[0])
    m = x.shape[2] // (3 * num_joints)
    rows = FileRows(x, path, to_sample=partial(_ctrgcn_sample, persons=m, joints=num_joints))
    if not scan:
        return Samples(rows, labels, f"{path}: x_{key}", num_classes=num_classes, lazy=True)
    keep = scan_rows(rows)
    return Samples(Subset(rows, keep), labels[keep], f"{path}: x_{key}", num_classes=num_classes,
                   num_skipped=len(rows) - len(keep))


def _ctrgcn_sample(row: np.ndarray, persons: int, joints: int) -> np.ndarray:
    """(T, M*V*3) with persons outermost, as CTR-GCN's feeder reshapes it -> (3, T, V, M)."""
    return row.reshape(row.shape[0], persons, joints, 3).transpose(3, 0, 2, 1)


MSR_PATTERN = re.compile(r"a(\d\d)_s(\d\d)_e(\d\d)_skeleton3D\.txt")
MSR_JOINTS, MSR_CLASSES = 20, 20


# cross-subject protocol (Li et al. 2010): odd subjects train, even test; for model selection the training
# subjects split again, 1,3,5 train / 7,9 validate (the test subjects are then never read)
MSR_SUBJECTS = {(False, "train"): MSR_TRAIN_SUBJECTS, (False, "test"): (2, 4, 6, 8, 10),
                (True, "train"): (1, 3, 5), (True, "test"): (7, 9)}


def read_msr_action3d(root, split: str, num_joints: int = MSR_JOINTS, validation: bool = False,
                      validation_subjects=()) -> Samples:
    """MSR Action3D `aAA_sSS_eEE_skeleton3D.txt` (20 lines `x y z c` per frame), camera coordinates; the
    subjects of `split` ("train" | "test") under MSR_SUBJECTS, or with `validation` and `validation_subjects`
    those training subjects ("test") and the other training subjects ("train"); all-zero files (a13_s09_e02)
    are dropped and counted; M = 1."""
    root = Path(root)
    if num_joints != MSR_JOINTS:
        raise CPMError(f"msr_action3d has {MSR_JOINTS} joints; data.layout must be 'kinect_v1', "
                       f"got {num_joints} joints")
    folder = root / "skeleton3D" if (root / "skeleton3D").is_dir() else root
    files = sorted(p for p in folder.glob("*.txt") if MSR_PATTERN.fullmatch(p.name)) if folder.is_dir() else []
    if not files:
        raise CPMError(f"no MSR Action3D files in {root} (expected aAA_sSS_eEE_skeleton3D.txt files there or in "
                       f"{root / 'skeleton3D'})")
    subjects = MSR_SUBJECTS[(bool(validation), "train" if split == "train" else "test")]
    if validation and validation_subjects:
        held = set(validation_subjects)
        subjects = tuple(s for s in MSR_TRAIN_SUBJECTS if (s in held) != (split == "train"))
    xs, ys, ns = [], [], []
    for p in files:
        action, subject, _ = (int(g) for g in MSR_PATTERN.fullmatch(p.name).groups())
        if subject not in subjects:
            continue
        try:
            values = np.array(p.read_text().split(), dtype=np.float32)
        except ValueError as err:
            raise CPMError(f"{p}: non-numeric value ({err})") from None
        if values.size % (4 * MSR_JOINTS):
            raise CPMError(f"{p}: {values.size} values, expected a multiple of {4 * MSR_JOINTS} "
                           "(frames x 20 joints x 4)")
        xyz = values.reshape(-1, MSR_JOINTS, 4)[..., :3]  # drop the confidence column
        xs.append(np.ascontiguousarray(xyz.transpose(2, 0, 1)[..., None]))  # (3, T, 20, 1)
        ys.append(action - 1), ns.append(p.name[:11])
    xs, ys, ns, skipped = _in_memory_checks(xs, ys, ns, str(folder))
    return Samples(xs, _as_labels(np.asarray(ys, dtype=np.int64), str(folder)), str(folder),
                   num_classes=MSR_CLASSES, names=ns, num_skipped=skipped)
