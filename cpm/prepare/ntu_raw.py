"""Raw NTU RGB+D 60/120 `.skeleton` files: names, official splits, parsing and body selection.

File format (CRLF text): T, then per frame the body count, then per body a 10-field info line (bodyID first),
the joint count (25) and one 12-field line per joint (x y z depthX depthY colorX colorY orientW..Z state).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpm.errors import CPMError

NUM_JOINTS = 25
JOINT_FIELDS = 12
BODY_INFO_FIELDS = 10
NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")

NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU60_TRAIN_CAMERAS = (2, 3)
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
    93, 94, 95, 97, 98, 100, 103)
BENCHMARKS = ("xsub", "xview", "xsub120", "xset120")
_MISSING_DIR = Path(__file__).resolve().parent / "ntu_missing"
_MISSING_FILES = {60: "NTU_RGBD_samples_with_missing_skeletons.txt",
                  120: "NTU_RGBD120_samples_with_missing_skeletons.txt"}


@dataclass(frozen=True)
class SampleName:
    """Fields of `SsssCcccPpppRrrrAaaa` (all 1-based as in the name); `label` is the 0-based action."""

    name: str
    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        return self.action - 1


def parse_name(name: str) -> SampleName:
    """Parse `SsssCcccPpppRrrrAaaa[.skeleton]` (a path is fine); CPMError if the name does not match."""
    stem = Path(name).name
    stem = stem[: -len(".skeleton")] if stem.endswith(".skeleton") else stem
    m = NAME_RE.fullmatch(stem)
    if m is None:
        raise CPMError(f"{name}: not an NTU sample name (expected SsssCcccPpppRrrrAaaa[.skeleton])")
    return SampleName(stem, *(int(g) for g in m.groups()))


def benchmark_dataset(benchmark: str) -> int:
    """60 or 120: which release a benchmark belongs to (NTU-60 = setups 1..17)."""
    if benchmark not in BENCHMARKS:
        raise CPMError(f"benchmark {benchmark!r} unknown (expected one of {', '.join(BENCHMARKS)})")
    return 120 if benchmark.endswith("120") else 60


def in_benchmark(s: SampleName, benchmark: str) -> bool:
    """Whether a sample belongs to the benchmark's release (NTU-60 benchmarks ignore setups 18..32)."""
    return benchmark_dataset(benchmark) == 120 or s.setup <= 17


def is_training(s: SampleName, benchmark: str) -> bool:
    """Official training-set membership (Shahroudy et al. 2016; Liu et al. 2019)."""
    if benchmark == "xsub":
        return s.performer in NTU60_TRAIN_SUBJECTS
    if benchmark == "xview":
        return s.camera in NTU60_TRAIN_CAMERAS
    if benchmark == "xsub120":
        return s.performer in NTU120_TRAIN_SUBJECTS
    if benchmark == "xset120":
        return s.setup % 2 == 0
    raise CPMError(f"benchmark {benchmark!r} unknown (expected one of {', '.join(BENCHMARKS)})")


def read_name_list(path: str | Path) -> set[str]:
    """Sample names listed one per line (optional `.skeleton`); other lines (headers, prose) are ignored."""
    p = Path(path)
    if not p.is_file():
        raise CPMError(f"{p}: ignore list not found (expected a text file with one sample name per line)")
    names = set()
    for line in p.read_text(encoding="latin-1").splitlines():
        token = line.strip().removesuffix(".skeleton")
        if NAME_RE.fullmatch(token):
            names.add(token)
    return names


def official_missing(dataset: int) -> set[str]:
    """The official list of samples with missing skeletons: 302 names (NTU-60) or 535 (NTU-120)."""
    return read_name_list(_MISSING_DIR / _MISSING_FILES[dataset])


@dataclass(frozen=True)
class RawSkeleton:
    """One parsed file. Bodies are tracked by bodyID, in order of first appearance."""

    name: str
    bodies_per_frame: np.ndarray  # (T,) int: body count declared for each frame
    body_ids: tuple[str, ...]  # (B,)
    xyz: np.ndarray  # (B, T, 25, 3) float64 camera-space metres, 0 where the body is absent
    present: np.ndarray  # (B, T) bool
    listed: np.ndarray  # (T, max bodies per frame) int: body index of the k-th body listed in frame t, -1 = none

    @property
    def num_frames(self) -> int:
        return len(self.bodies_per_frame)


def _int_at(lines: list[str], i: int, path: str, what: str) -> int:
    if i >= len(lines):
        raise CPMError(f"{path}: file ends at line {len(lines)}, expected {what} on line {i + 1} (truncated?)")
    token = lines[i].strip()
    if not token.isdigit():
        raise CPMError(f"{path}: line {i + 1}: expected {what} (a non-negative integer), found {token[:40]!r}")
    return int(token)


def _locate_bad_joint_line(lines: list[str], blocks: list[int], path: str) -> CPMError:
    """Slow path, only after the fast parse failed: find the first joint line that is not 12 finite numbers."""
    for start in blocks:
        for i in range(start, start + NUM_JOINTS):
            fields = lines[i].split()
            try:
                ok = len(fields) == JOINT_FIELDS and all(np.isfinite(float(f)) for f in fields)
            except ValueError:
                ok = False
            if not ok:
                return CPMError(f"{path}: line {i + 1}: expected {JOINT_FIELDS} finite numbers (joint line), "
                                f"found {lines[i].strip()[:60]!r}")
    return CPMError(f"{path}: joint lines could not be parsed")


def read_skeleton(path: str | Path) -> RawSkeleton:
    """Parse one `.skeleton` file. A truncated file or a malformed/non-numeric line -> CPMError with file and line."""
    path = str(path)
    try:
        lines = Path(path).read_bytes().decode("latin-1").splitlines()
    except OSError as e:
        raise CPMError(f"{path}: cannot read ({e.strerror})") from None
    num_frames = _int_at(lines, 0, path, "the frame count")
    i = 1
    counts = np.zeros(num_frames, dtype=np.int64)
    ids: dict[str, int] = {}
    rec_frame, rec_body, blocks = [], [], []
    for t in range(num_frames):
        counts[t] = _int_at(lines, i, path, f"the body count of frame {t + 1}")
        i += 1
        for _ in range(counts[t]):
            if i >= len(lines):
                raise CPMError(f"{path}: file ends at line {len(lines)} inside frame {t + 1} (truncated?)")
            info = lines[i].split()
            if len(info) != BODY_INFO_FIELDS:
                raise CPMError(f"{path}: line {i + 1}: expected a {BODY_INFO_FIELDS}-field body info line, "
                               f"found {len(info)} fields")
            body = ids.setdefault(info[0], len(ids))
            nj = _int_at(lines, i + 1, path, "the joint count")
            if nj != NUM_JOINTS:
                raise CPMError(f"{path}: line {i + 2}: expected {NUM_JOINTS} joints, found {nj}")
            if i + 2 + nj > len(lines):
                raise CPMError(f"{path}: file ends at line {len(lines)} inside frame {t + 1} (truncated?)")
            rec_frame.append(t)
            rec_body.append(body)
            blocks.append(i + 2)
            i += 2 + nj
    extra = next((k for k in range(i, len(lines)) if lines[k].strip()), None)
    if extra is not None:
        raise CPMError(f"{path}: line {extra + 1}: unexpected content after the {num_frames} declared frames")
    xyz = np.zeros((len(ids), num_frames, NUM_JOINTS, 3))
    present = np.zeros((len(ids), num_frames), dtype=bool)
    if blocks:
        joint_lines = [lines[k] for s in blocks for k in range(s, s + NUM_JOINTS)]
        try:
            values = np.loadtxt(joint_lines, dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            raise _locate_bad_joint_line(lines, blocks, path) from None
        if values.shape[1] != JOINT_FIELDS or not np.isfinite(values).all():
            raise _locate_bad_joint_line(lines, blocks, path)
        xyz[rec_body, rec_frame] = values[:, :3].reshape(-1, NUM_JOINTS, 3)
        present[rec_body, rec_frame] = True
    listed = np.full((num_frames, int(counts.max(initial=0))), -1, dtype=np.int64)
    rank = np.arange(len(rec_frame)) - np.concatenate([[0], np.cumsum(counts)[:-1]])[rec_frame]
    listed[rec_frame, rank] = rec_body
    return RawSkeleton(Path(path).name.removesuffix(".skeleton"), counts, tuple(ids), xyz, present, listed)


def motion_energy(raw: RawSkeleton) -> np.ndarray:
    """(B,) sum over joints and axes of each body's variance over the frames where it is present."""
    mask = raw.present[:, :, None, None]
    n = np.maximum(raw.present.sum(1), 1)[:, None, None]
    mean = (raw.xyz * mask).sum(1) / n
    var = (((raw.xyz - mean[:, None]) * mask) ** 2).sum(1) / n
    return var.sum((1, 2))


BODY_RULES = ("lineage", "energy")


def select_bodies(raw: RawSkeleton, max_bodies: int = 2, rule: str = "lineage") -> np.ndarray | None:
    """(3, T', 25, max_bodies) float32, or None for a sequence without any non-zero joint.

    'lineage' (st-gcn/CrosSCLR/AimCLR tools/utils/ntu_read_skeleton.py `read_xyz`, also the official txt2npy
    `skel_body<k>`): slot k of frame t holds the k-th body listed in frame t, in file order; every frame is kept
    (T' = T, zero-body frames stay zero). 'energy' (after 2s-AGCN's ntu_gendata / CTR-GCN's get_raw_skes_data):
    bodies are tracked by bodyID; the `max_bodies` with the largest motion energy are kept, slot 0 = most
    energetic (ties: first seen); frames where none of them is present (e.g. zero-body frames) are dropped.
    """
    if rule not in BODY_RULES:
        raise CPMError(f"--bodies {rule!r}: expected one of {', '.join(BODY_RULES)}")
    if raw.xyz.shape[0] == 0:
        return None
    if rule == "lineage":
        out = np.zeros((3, raw.num_frames, NUM_JOINTS, max_bodies), dtype=np.float32)
        for k in range(min(max_bodies, raw.listed.shape[1])):
            frames = np.flatnonzero(raw.listed[:, k] >= 0)
            out[:, frames, :, k] = raw.xyz[raw.listed[frames, k], frames].transpose(0, 2, 1)  # indexed dim first
        return out if out.any() else None
    order = np.argsort(-motion_energy(raw), kind="stable")[:max_bodies]
    keep = raw.present[order].any(0)
    data = raw.xyz[order][:, keep]  # (m, T', V, 3)
    if data.shape[1] == 0 or not data.any():
        return None
    out = np.zeros((3, data.shape[1], NUM_JOINTS, max_bodies), dtype=np.float32)
    out[..., : len(order)] = data.transpose(3, 1, 2, 0)
    return out


def load_ntu_sample(path: str | Path, max_bodies: int = 2, bodies: str = "lineage") -> np.ndarray | None:
    """Parse + select: the per-file unit of work of `prepare_ntu` (None = empty sequence)."""
    return select_bodies(read_skeleton(path), max_bodies, bodies)
