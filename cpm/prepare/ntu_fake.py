"""Syntactically exact NTU `.skeleton` files for tests and the preparation benchmark (not real data).

The text follows the raw release byte for byte in structure: CRLF endings, a 10-field body info line, the joint
count, 25 lines of 12 fields (x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from cpm.prepare.ntu_raw import NUM_JOINTS

# A rough standing Kinect v2 body (metres, camera space), used as the base pose of generated bodies.
_BASE_POSE = np.array([
    [0.00, -0.30, 3.0], [0.00, 0.00, 3.0], [0.00, 0.30, 3.0], [0.00, 0.40, 3.0], [-0.18, 0.22, 3.0],
    [-0.25, -0.02, 3.0], [-0.28, -0.22, 3.0], [-0.29, -0.28, 3.0], [0.18, 0.22, 3.0], [0.25, -0.02, 3.0],
    [0.28, -0.22, 3.0], [0.29, -0.28, 3.0], [-0.09, -0.32, 3.0], [-0.10, -0.70, 3.0], [-0.10, -1.05, 3.0],
    [-0.10, -1.10, 2.9], [0.09, -0.32, 3.0], [0.10, -0.70, 3.0], [0.10, -1.05, 3.0], [0.10, -1.10, 2.9],
    [0.00, 0.22, 3.0], [-0.30, -0.33, 3.0], [-0.26, -0.30, 3.0], [0.30, -0.33, 3.0], [0.26, -0.30, 3.0]])


def _joint_line(p: np.ndarray) -> str:
    x, y, z = (float(v) for v in p)
    depth = (256 + 365 * x / z, 212 - 365 * y / z) if z else (0.0, 0.0)
    color = (960 + 1060 * x / z, 540 - 1060 * y / z) if z else (0.0, 0.0)
    fields = [x, y, z, *depth, *color, 0.9, 0.01, 0.3, -0.02]
    return " ".join(f"{v:.7g}" for v in fields) + " 2"


def skeleton_text(frames: Sequence[Sequence[tuple[str, np.ndarray]]]) -> str:
    """The file text for frames given as lists of (bodyID, xyz (25, 3)) - an empty list is a zero-body frame."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body_id, xyz in bodies:
            out.append(f"{body_id} 0 1 1 1 1 0 0.02764709 0.05745083 2")
            out.append(str(NUM_JOINTS))
            out.extend(_joint_line(p) for p in np.asarray(xyz, dtype=np.float64).reshape(NUM_JOINTS, 3))
    return "\r\n".join(out) + "\r\n"


def write_skeleton(path: str | Path, frames: Sequence[Sequence[tuple[str, np.ndarray]]]) -> Path:
    """Write `skeleton_text(frames)` to `path` (bytes, so the CRLF endings are kept on every platform)."""
    path = Path(path)
    path.write_bytes(skeleton_text(frames).encode("ascii"))
    return path


def random_sequence(rng: np.random.Generator, num_frames: int, num_bodies: int = 1) -> list:
    """Frames of `num_bodies` smoothly moving bodies with distinct bodyIDs (random walk on the base pose)."""
    bodies = []
    for b in range(num_bodies):
        drift = np.cumsum(rng.normal(0, 0.01, (num_frames, NUM_JOINTS, 3)), axis=0)
        offset = np.array([0.7 * b - 0.35 * (num_bodies - 1), 0.0, 0.2 * b])
        bodies.append((str(72057594037930000 + int(rng.integers(0, 10**6))), _BASE_POSE + offset + drift))
    return [[(bid, xyz[t]) for bid, xyz in bodies] for t in range(num_frames)]


def fake_sample_names(n: int, seed: int = 0, max_setup: int = 17) -> list[str]:
    """`n` distinct valid sample names spread over setups, cameras, performers and actions."""
    rng = np.random.default_rng(seed)
    max_action = 60 if max_setup <= 17 else 120
    max_performer = 40 if max_setup <= 17 else 106
    names: set[str] = set()
    while len(names) < n:
        s, c, p = rng.integers(1, max_setup + 1), rng.integers(1, 4), rng.integers(1, max_performer + 1)
        r, a = rng.integers(1, 3), rng.integers(1, max_action + 1)
        names.add(f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}")
    return sorted(names)


def write_fake_skeleton_tree(root: str | Path, n_files: int, seed: int = 0, frames: tuple[int, int] = (40, 120),
                             max_setup: int = 17) -> list[Path]:
    """Write `n_files` generated `.skeleton` files under `root` (deterministic from `seed`); returns the paths.

    Actions 50..60 (NTU-60) and 106..120 (NTU-120) are two-person, as in the release; the rest have one body.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name in fake_sample_names(n_files, seed, max_setup):
        action = int(name[-3:])
        two = 50 <= action <= 60 or action >= 106
        t = int(rng.integers(frames[0], frames[1] + 1))
        paths.append(write_skeleton(root / f"{name}.skeleton", random_sequence(rng, t, 2 if two else 1)))
    return paths
