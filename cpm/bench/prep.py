"""Section 5: `prepare_ntu` (scripts/prepare_ntu.py) files/s on a generated tree of NTU `.skeleton` files,
with one parser process and with one per core."""
from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from cpm.prepare.ntu_fake import write_fake_skeleton_tree
from cpm.prepare.ntu import prepare_ntu


def prepare_speed(tmp: Path, n_files: int, frames: int = 50, rounds: int = 2) -> dict:
    """Median seconds of `rounds` alternating runs per worker count (the tree is in the page cache for all)."""
    raw = tmp / "skeletons"
    write_fake_skeleton_tree(raw, n_files, seed=0, frames=(60, 120))  # NTU clips are 30-300 frames, mostly < 120
    cores = os.cpu_count() or 1
    out = {"files": n_files}
    runs = {1: [], cores: []}
    for _ in range(rounds):
        for workers in runs:
            dst = tmp / f"prepared_{workers}"
            t0 = time.perf_counter()
            report = prepare_ntu(raw, dst, "xsub", frames=frames, workers=workers, progress=False)
            runs[workers].append(time.perf_counter() - t0)
            written = sum(s.written for s in report.splits)
            shutil.rmtree(dst, ignore_errors=True)
    for key, workers in (("one_worker", 1), ("all_cores", cores)):
        seconds = statistics.median(runs[workers])
        out[key] = {"workers": workers, "seconds": seconds, "files_per_s": report.found / seconds,
                    "samples_written": written, "runs_s": runs[workers]}
    shutil.rmtree(raw, ignore_errors=True)
    out["ratio"] = out["all_cores"]["files_per_s"] / out["one_worker"]["files_per_s"]
    out["cores"] = cores
    return out
