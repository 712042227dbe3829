"""Raw PKU-MMD (Part I and II): cut the labelled action clips out of the long sequences.

Skeleton file `<video>.txt`: one line per frame, 150 numbers = 2 bodies x 25 joints x (x, y, z), the second body
all zero when absent. Label file `<video>.txt`: one row `action_id,start_frame,end_frame,confidence` per action,
action ids 1-based (51 classes). Split file (official `cross-subject.txt` / `cross-view.txt`):
`Training videos:` then comma-separated video names, `Validataion videos:` (sic) then the test videos.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from cpm.prepare.common import SplitReport, Task, run_cli, staged_outputs, summarize, write_split
from cpm.cli.common import add_debug_argument
from cpm.errors import CPMError

NUM_JOINTS, NUM_BODIES = 25, 2
FIELDS = NUM_BODIES * NUM_JOINTS * 3
_TRAIN_HEAD = re.compile(r"training\s+videos\s*:", re.I)
_VAL_HEAD = re.compile(r"valid\w*\s+videos\s*:", re.I)  # the official files spell it "Validataion"


def read_split_file(path: str | Path) -> tuple[list[str], list[str]]:
    """(training videos, validation/test videos) of an official PKU-MMD split file."""
    p = Path(path)
    if not p.is_file():
        raise CPMError(f"--split-file {p}: not found (expected the official cross-subject.txt / cross-view.txt)")
    text = p.read_text(encoding="latin-1")
    m_train, m_val = _TRAIN_HEAD.search(text), _VAL_HEAD.search(text)
    if m_train is None or m_val is None or m_val.start() < m_train.end():
        raise CPMError(f"{p}: expected 'Training videos:' followed by 'Validataion videos:', each with a "
                       "comma-separated list of video names")

    def names(chunk: str) -> list[str]:
        return [n.strip() for n in chunk.replace("\n", ",").split(",") if n.strip()]

    train, val = names(text[m_train.end(): m_val.start()]), names(text[m_val.end():])
    if not train or not val or set(train) & set(val):
        raise CPMError(f"{p}: found {len(train)} training and {len(val)} validation videos "
                       f"({len(set(train) & set(val))} in both); expected two non-empty disjoint lists")
    return train, val


def read_labels(path: str | Path) -> list[tuple[int, int, int]]:
    """[(label 0-based, start, end)] from a label csv; a malformed row -> CPMError with file and line."""
    p = Path(path)
    if not p.is_file():
        raise CPMError(f"{p}: label file not found (expected rows action_id,start_frame,end_frame,confidence)")
    rows = []
    for i, line in enumerate(p.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        try:
            action, start, end = (int(f) for f in fields[:3])
            ok = len(fields) >= 3 and action >= 1 and 0 <= start <= end
        except ValueError:
            ok = False
        if not ok:
            raise CPMError(f"{p}: line {i}: expected action_id>=1,start<=end,confidence, found {line.strip()[:60]!r}")
        rows.append((action - 1, start, end))
    return rows


def read_pku_skeleton(path: str | Path) -> np.ndarray:
    """(T, 150) float64; a row without 150 finite numbers -> CPMError naming file and line."""
    p = Path(path)
    try:
        lines = p.read_bytes().decode("latin-1").splitlines()
    except OSError as e:
        raise CPMError(f"{p}: cannot read skeleton file ({e.strerror})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CPMError(f"{p}: empty skeleton file (expected one line of {FIELDS} numbers per frame)")
    try:
        values = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
        if values.shape[1] == FIELDS and np.isfinite(values).all():
            return values
    except ValueError:
        pass
    for i, line in enumerate(lines, 1):  # slow path only to name the first bad line
        try:
            row = np.array(line.split(), dtype=np.float64)
        except ValueError:
            row = np.array([])
        if row.size != FIELDS or not np.isfinite(row).all():
            raise CPMError(f"{p}: line {i}: expected {FIELDS} finite numbers (2 bodies x 25 joints x 3), "
                           f"found {line.strip()[:60]!r}")
    raise CPMError(f"{p}: could not be parsed as rows of {FIELDS} numbers")


def cut_clip(seq: np.ndarray, start: int, end: int) -> np.ndarray | None:
    """(3, T', 25, 2) float32 of frames `seq[start:end]` (Python slice of 0-based frames, as public PKU loaders);
    frames where both bodies are all zero are dropped; None if nothing is left."""
    clip = seq[start:end].reshape(-1, NUM_BODIES, NUM_JOINTS, 3)
    clip = clip[np.abs(clip).sum(axis=(1, 2, 3)) > 0]
    if len(clip) == 0:
        return None
    return np.ascontiguousarray(clip.transpose(3, 0, 2, 1), dtype=np.float32)


def _load_task(task: Task) -> list:
    seq = read_pku_skeleton(task.source)
    return [cut_clip(seq, s, e) for s, e in task.payload]


@dataclass
class PKUPrepareReport:
    label_errors: list[str] = field(default_factory=list)  # videos whose label file failed: not prepared
    splits: list[SplitReport] = field(default_factory=list)

    def summary(self) -> tuple[str, int]:
        text, code = summarize(self.splits)
        if self.label_errors:
            text += f"\n{len(self.label_errors)} label file(s) failed:\n" + "\n".join(
                f"  {e}" for e in self.label_errors)
        return text, int(code or bool(self.label_errors))


def prepare_pku(skeletons: str | Path, labels: str | Path, split_file: str | Path, out: str | Path,
                frames: int = 50, workers: int = 1, max_frames: int = 300, progress: bool = True) -> PKUPrepareReport:
    """Write train/val arrays of the split named by `split_file` (train = its training videos)."""
    for flag, d in (("--skeletons", skeletons), ("--labels", labels)):
        if not Path(d).is_dir():
            raise CPMError(f"{flag} {d}: directory not found (expected <video>.txt files, e.g. 0002-L.txt)")
    if frames < 1 or workers < 1:
        raise CPMError(f"--frames {frames} / --workers {workers}: both must be >= 1")
    train, val = read_split_file(split_file)
    report = PKUPrepareReport()
    with staged_outputs(out):  # a re-run replaces finished outputs only once its own are complete
        for split, videos in (("train", train), ("val", val)):
            tasks = []
            for video in videos:
                try:
                    rows = read_labels(Path(labels) / f"{video}.txt")
                except CPMError as e:
                    report.label_errors.append(str(e))
                    continue
                tasks.append(Task(str(Path(skeletons) / f"{video}.txt"),
                                  tuple(f"{video}_{k:03d}" for k in range(len(rows))),
                                  tuple(r[0] for r in rows), tuple((r[1], r[2]) for r in rows)))
            report.splits.append(write_split(out, split, tasks, _load_task, num_frames=frames,
                                             max_frames=max_frames, workers=workers, progress=progress, chunksize=1,
                                             publish=False))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prepare PKU-MMD Part I/II skeletons (st-gcn array format).")
    ap.add_argument("--skeletons", required=True, help="folder of skeleton <video>.txt files")
    ap.add_argument("--labels", required=True, help="folder of label <video>.txt files")
    ap.add_argument("--split-file", required=True, help="official cross-subject.txt or cross-view.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--frames", type=int, default=50, help="frames of the normalised position arrays")
    ap.add_argument("--max-frames", type=int, default=300, help="frames of the data arrays; longer clips resampled")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-progress", action="store_true")
    add_debug_argument(ap)
    args = ap.parse_args(argv)
    return run_cli(prepare_pku, args.skeletons, args.labels, args.split_file, args.out, args.frames, args.workers,
                   args.max_frames, progress=not args.no_progress)
