"""MSR Action3D -> centred st-gcn arrays (`data.format: arrays`) for configs/msr_action3d*.yaml.

The raw release holds camera-space coordinates (metres, the body ~2.5-3 m away). The lineage's NTU `position`
arrays are centred on the shoulder-centre joint in every frame (cpm/data/normalize.py); shear then acts on the
body's shape instead of moving it by up to a metre, and the absolute position of each performer is no shortcut
for telling clips apart. This does the same for MSR Action3D (centre = kinect_v1 joint 3, the shoulder centre,
the layout's centre) through the library's reader (`read_msr_action3d`: all-zero file dropped), and writes:

    <out>/xsub/{train,test}_position.npy + _label.pkl   cross-subject: subjects 1,3,5,7,9 train, 2,4,6,8,10 test
    <out>/val/{train,val}_position.npy + _label.pkl     model selection: subjects 1,3,5 train, 7,9 validate

Arrays are (N, 3, T_max, 20, 1) float32, each clip trimmed to its valid frames and zero-padded (the dataset
resizes the valid frames to data.num_frames). Derived data: it stays under runs/ (git-ignored), never committed.
Missing frames (all joints zero, e.g. some `bend` recordings) stay zero.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cpm.data.readers import read_msr_action3d
from cpm.errors import CPMError
from cpm.graph import get_layout

PROTOCOLS = {  # name -> {split name: subjects}
    "xsub": {"train": (1, 3, 5, 7, 9), "test": (2, 4, 6, 8, 10)},
    "val": {"train": (1, 3, 5), "val": (7, 9)},
}


def center_frames(x: np.ndarray, center: int) -> np.ndarray:
    """(3, T, V, M) joints relative to joint `center` in every frame (all-zero frames stay zero)."""
    return (x - x[:, :, center: center + 1]).astype(np.float32)


def trim(x: np.ndarray) -> np.ndarray:
    """Keep frames from the first to the last non-zero one."""
    valid = np.flatnonzero(np.abs(x).sum(axis=(0, 2, 3)) > 0)
    return x[:, valid[0]: valid[-1] + 1]


def subject_of(name: str) -> int:
    """`aAA_sSS_eEE` -> SS."""
    return int(name[5:7])


def write_split(folder: Path, split: str, clips: list, labels: list, names: list) -> None:
    t_max = max(c.shape[1] for c in clips)
    arr = np.zeros((len(clips), 3, t_max, clips[0].shape[2], clips[0].shape[3]), dtype=np.float32)
    for i, c in enumerate(clips):
        arr[i, :, : c.shape[1]] = c
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{split}_position.npy"
    np.save(tmp, arr)
    tmp.replace(folder / f"{split}_position.npy")
    with open(folder / f"{split}_label.pkl", "wb") as f:
        pickle.dump((list(names), [int(y) for y in labels]), f)


def prepare_msr(root, out, protocols=("xsub", "val")) -> dict:
    """Write the centred arrays of each protocol under `out`; returns {protocol: {split: clip count}}."""
    root, out = Path(root), Path(out)
    center = get_layout("kinect_v1").center
    clips, labels, names = [], [], []
    for half in ("train", "test"):  # the reader splits odd/even subjects; regroup by subject below
        s = read_msr_action3d(root, half)
        clips += [trim(center_frames(np.asarray(x), center)) for x in s.data]
        labels += s.labels.tolist()
        names += list(s.names)
    subjects = np.array([subject_of(n) for n in names])
    counts = {}
    for proto in protocols:
        if proto not in PROTOCOLS:
            raise CPMError(f"prepare_msr: unknown protocol '{proto}', expected one of {sorted(PROTOCOLS)}")
        counts[proto] = {}
        for split, subs in PROTOCOLS[proto].items():
            idx = np.flatnonzero(np.isin(subjects, subs))
            write_split(out / proto, split, [clips[i] for i in idx], [labels[i] for i in idx],
                        [names[i] for i in idx])
            counts[proto][split] = int(idx.size)
    return counts
