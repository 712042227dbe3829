"""Shared writer of the st-gcn/CrosSCLR array format for the raw-data preparation scripts.

One split = `{split}_data.npy` (N, 3, max_frames, V, M) float32, `{split}_position.npy` (N, 3, frames, V, M) and
`{split}_label.pkl` = (sample_names, labels). Tasks are parsed in a process pool (ordered, chunked), results are
written through `np.lib.format.open_memmap` (flat memory) into temporary files that are renamed into place only
when the split is complete (`staged_outputs`: when every split is), so an interrupted run never leaves outputs
that look finished, and a re-run keeps the previous outputs until its own are complete.
"""
from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing as mp
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from cpm.data.normalize import normalize_sequence, resize_frames, valid_length
from cpm.errors import CPMError

TMP_TAG = ".partial"


@dataclass(frozen=True)
class Task:
    """One unit of parallel work (a file) and the samples it is expected to yield, in order."""

    source: str
    names: tuple[str, ...]
    labels: tuple[int, ...]
    payload: object = None  # extra per-task input for the loader (e.g. PKU clip bounds)


@dataclass
class SplitReport:
    split: str
    written: int = 0
    empty: list[str] = field(default_factory=list)  # samples without any body: skipped
    errors: list[str] = field(default_factory=list)  # one line per failed task (file and line named)
    resized: int = 0  # sequences longer than max_frames, resampled to max_frames


def _run_task(loader: Callable, num_frames: int, max_frames: int, rotation: str, task: Task):
    """Worker: load a task's samples and derive their position arrays; errors come back as text."""
    try:
        arrays = loader(task)
        if len(arrays) != len(task.names):
            raise CPMError(f"{task.source}: loader returned {len(arrays)} samples, expected {len(task.names)}")
        out = []
        for a in arrays:
            if a is None:
                out.append(None)
                continue
            resized = a.shape[1] > max_frames
            if resized:  # keep the whole action rather than cutting it (rare on NTU; long PKU-MMD clips)
                a = resize_frames(a[:, : valid_length(a)], max_frames).astype(np.float32)
            out.append((a, normalize_sequence(a, num_frames, rotation=rotation), resized))
        return out, None
    except (ValueError, OSError) as e:  # CPMError is a ValueError; other bugs should surface
        return None, str(e) if isinstance(e, CPMError) else f"{task.source}: {type(e).__name__}: {e}"


def _shrink_npy(path: Path, n: int) -> None:
    """Make an .npy's first axis `n` (<= current) in place: rewrite the header, truncate the data."""
    with open(path, "r+b") as f:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        read, write = ((fmt.read_array_header_1_0, fmt.write_array_header_1_0) if version == (1, 0)
                       else (fmt.read_array_header_2_0, fmt.write_array_header_2_0))
        shape, fortran, dtype = read(f)
        offset = f.tell()
        buf = io.BytesIO()
        write(buf, {"descr": fmt.dtype_to_descr(dtype), "fortran_order": fortran, "shape": (n,) + shape[1:]})
        new = buf.getvalue()
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        if len(new) == offset:  # numpy pads headers so the first axis can change length in place
            f.seek(0)
            f.write(new)
            f.truncate(offset + n * row)
            return
    old = np.load(path, mmap_mode="r")  # fallback: copy in chunks into a right-sized file
    tmp = path.with_name(path.name + ".shrink")
    dst = np.lib.format.open_memmap(tmp, mode="w+", dtype=old.dtype, shape=(n,) + old.shape[1:])
    for s in range(0, n, 256):
        dst[s: s + 256] = old[s: s + 256]
    dst.flush()
    del dst, old
    os.replace(tmp, path)


def split_paths(out_dir: Path, split: str) -> dict[str, Path]:
    return {"data": out_dir / f"{split}_data.npy", "position": out_dir / f"{split}_position.npy",
            "label": out_dir / f"{split}_label.pkl"}


def write_split(out_dir: str | Path, split: str, tasks: Sequence[Task], loader: Callable[[Task], list], *,
                num_frames: int = 50, max_frames: int = 300, num_joints: int = 25, max_persons: int = 2,
                workers: int = 1, chunksize: int = 8, progress: bool = True, rotation: str = "frame",
                publish: bool = True) -> SplitReport:
    """Parse `tasks` with `loader` (a picklable function: Task -> list of (3, T, V, M) arrays or None = empty)
    in `workers` processes and write the split's three files atomically (`rotation` of the position arrays:
    see `cpm.data.normalize.align_shoulders`); `publish=False` leaves them under their temporary names for
    :func:`staged_outputs` to publish together with the other splits."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = split_paths(out_dir, split)
    tmp = {k: _tmp_path(p) for k, p in final.items()}
    total = sum(len(t.names) for t in tasks)
    data = np.lib.format.open_memmap(tmp["data"], mode="w+", dtype=np.float32,
                                     shape=(total, 3, max_frames, num_joints, max_persons))
    pos = np.lib.format.open_memmap(tmp["position"], mode="w+", dtype=np.float32,
                                    shape=(total, 3, num_frames, num_joints, max_persons))
    report, names, labels = SplitReport(split), [], []
    fn = functools.partial(_run_task, loader, num_frames, max_frames, rotation)
    pool = mp.get_context().Pool(workers) if workers > 1 else None
    try:
        results = pool.imap(fn, tasks, chunksize=chunksize) if pool else map(fn, tasks)
        bar = tqdm(results, total=len(tasks), desc=f"{split}", unit="file", disable=not progress)
        for task, (samples, error) in zip(tasks, bar):
            if error is not None:
                report.errors.append(error)
                continue
            for name, label, sample in zip(task.names, task.labels, samples):
                if sample is None:
                    report.empty.append(name)
                    continue
                a, p, resized = sample
                k = report.written
                data[k, :, : a.shape[1]] = a
                pos[k] = p
                names.append(name)
                labels.append(int(label))
                report.written += 1
                report.resized += int(resized)
        data.flush()
        pos.flush()
        del data, pos
        if report.written < total:
            _shrink_npy(tmp["data"], report.written)
            _shrink_npy(tmp["position"], report.written)
        with open(tmp["label"], "wb") as f:
            pickle.dump((names, labels), f)
    except BaseException:  # interrupted or failed: leave nothing behind, not even partial files
        for p in tmp.values():
            p.unlink(missing_ok=True)
        raise
    finally:
        if pool:
            pool.terminate()
            pool.join()
    if publish:
        publish_splits(out_dir, (split,))
    return report


def _tmp_path(p: Path) -> Path:
    return p.with_name(f"{p.stem}{TMP_TAG}{p.suffix}")


def publish_splits(out_dir: str | Path, splits: Sequence[str]) -> None:
    """Rename the finished temporary files of `splits` into place (labels last: readers need them, so a cut
    here reads as incomplete rather than finished)."""
    paths = [split_paths(Path(out_dir), split) for split in splits]
    for key in ("data", "position", "label"):
        for final in paths:
            os.replace(_tmp_path(final[key]), final[key])


def remove_stale(out_dir: str | Path, splits: Sequence[str] = ("train", "val")) -> None:
    """Delete temporary files of `splits` that an interrupted run left (finished outputs are kept)."""
    for split in splits:
        for p in split_paths(Path(out_dir), split).values():
            _tmp_path(p).unlink(missing_ok=True)


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path, splits: Sequence[str] = ("train", "val")):
    """Around `write_split(..., publish=False)` calls: the old outputs of `splits` stay in place until every
    new split is complete, then all are replaced; a failure or kill before that leaves the old ones intact."""
    remove_stale(out_dir, splits)
    try:
        yield
    except BaseException:
        remove_stale(out_dir, splits)
        raise
    publish_splits(out_dir, splits)


def summarize(reports: Sequence[SplitReport], skipped_listed: int = 0) -> tuple[str, int]:
    """Human summary and exit code (1 if any file failed)."""
    lines = [f"{r.split}: {r.written} samples written, {len(r.empty)} empty (no body) skipped"
             + (f", {r.resized} longer than max frames resampled" if r.resized else "") for r in reports]
    if skipped_listed:
        lines.append(f"skipped as listed with missing skeletons: {skipped_listed}")
    errors = [e for r in reports for e in r.errors]
    if errors:
        lines.append(f"{len(errors)} file(s) failed:")
        lines += [f"  {e}" for e in errors]
    return "\n".join(lines), int(bool(errors))


def run_cli(prepare: Callable, *args, **kwargs) -> int:
    """Run a prepare_* function for a CLI inside the shared error boundary (cpm/cli/common.py: one 'error: ...'
    line and an exit code per kind of failure), else print the report's summary and return its exit code
    (1 when some files failed)."""
    import sys

    from cpm.cli.common import run_guarded

    def body() -> int:
        text, code = prepare(*args, **kwargs).summary()
        print(text, file=sys.stderr if code else sys.stdout)
        return code

    return run_guarded(body)
