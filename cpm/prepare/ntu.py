"""`prepare_ntu`: raw NTU RGB+D `.skeleton` tree -> st-gcn/CrosSCLR arrays for one official benchmark."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from cpm.cli.common import add_debug_argument
from cpm.data.normalize import ROTATIONS
from cpm.prepare.ntu_raw import (BENCHMARKS, BODY_RULES, NAME_RE, benchmark_dataset, in_benchmark, is_training,
                              load_ntu_sample, official_missing, parse_name, read_name_list)
from cpm.prepare.common import SplitReport, Task, run_cli, staged_outputs, summarize, write_split
from cpm.errors import CPMError


@dataclass
class NTUPrepareReport:
    found: int = 0  # .skeleton files under --raw
    bad_names: list[str] = field(default_factory=list)  # not SsssCcccPpppRrrrAaaa: ignored
    other_release: int = 0  # NTU-120-only setups met while preparing an NTU-60 benchmark
    skipped_listed: list[str] = field(default_factory=list)  # on the missing-skeleton / ignore list
    splits: list[SplitReport] = field(default_factory=list)

    def summary(self) -> tuple[str, int]:
        text, code = summarize(self.splits, len(self.skipped_listed))
        head = [f"found {self.found} .skeleton files"]
        if self.bad_names:
            head.append(f"ignored {len(self.bad_names)} files whose name is not SsssCcccPpppRrrrAaaa")
        if self.other_release:
            head.append(f"ignored {self.other_release} files of setups 18..32 (not part of NTU-60)")
        return "\n".join(head + [text]), code


def _load_task(task: Task) -> list:
    return [load_ntu_sample(task.source, bodies=task.payload)]


def find_skeleton_files(raw: str | Path) -> list[Path]:
    """All `*.skeleton` files under `raw` (recursively, e.g. the two NTU-120 folders), sorted by name."""
    raw = Path(raw)
    if not raw.is_dir():
        raise CPMError(f"--raw {raw}: directory not found (expected the folder of NTU SsssCcccPpppRrrrAaaa.skeleton "
                       "files, e.g. nturgb+d_skeletons)")
    files = sorted(raw.rglob("*.skeleton"), key=lambda p: p.name)
    if not files:
        raise CPMError(f"--raw {raw}: no *.skeleton files found (expected SsssCcccPpppRrrrAaaa.skeleton files)")
    seen: dict[str, Path] = {}
    for p in files:
        if p.name in seen:
            raise CPMError(f"--raw {raw}: sample {p.name} found twice ({seen[p.name]} and {p})")
        seen[p.name] = p
    return files


def prepare_ntu(raw: str | Path, out: str | Path, benchmark: str, frames: int = 50, workers: int = 1,
                ignore_list: str | Path | None = None, max_frames: int = 300,
                progress: bool = True, bodies: str = "lineage", rotation: str = "clip") -> NTUPrepareReport:
    """Write train/val `_data.npy`, `_position.npy` and `_label.pkl` of `benchmark` into `out`.

    `bodies` picks the two persons (`cpm.prepare.ntu_raw.select_bodies`: lineage = first two listed per frame,
    energy = two most moving bodyIDs), `rotation` the sign rule of the position arrays' y rotation
    (`cpm.data.normalize.align_shoulders`: clip = the lineage's one sign per clip, frame = per frame).

    Samples on the official missing-skeleton list of the release (or on `ignore_list`, which replaces it, as in
    the lineage's `--ignored_sample_path`) are skipped and counted; empty sequences are skipped and counted;
    corrupt files are collected in the split reports while the rest is written.
    """
    dataset = benchmark_dataset(benchmark)
    if frames < 1 or workers < 1:
        raise CPMError(f"--frames {frames} / --workers {workers}: both must be >= 1")
    if bodies not in BODY_RULES or rotation not in ROTATIONS:
        raise CPMError(f"--bodies {bodies!r} / --rotation {rotation!r}: expected {'|'.join(BODY_RULES)} / "
                       f"{'|'.join(ROTATIONS)}")
    ignored = read_name_list(ignore_list) if ignore_list else official_missing(dataset)
    report = NTUPrepareReport()
    files = find_skeleton_files(raw)
    report.found = len(files)
    tasks: dict[str, list[Task]] = {"train": [], "val": []}
    for p in files:
        if not NAME_RE.fullmatch(p.name.removesuffix(".skeleton")):
            report.bad_names.append(p.name)
            continue
        s = parse_name(p.name)
        if not in_benchmark(s, benchmark):
            report.other_release += 1
            continue
        if s.name in ignored:
            report.skipped_listed.append(s.name)
            continue
        split = "train" if is_training(s, benchmark) else "val"
        tasks[split].append(Task(str(p), (p.name,), (s.label,), bodies))  # names keep `.skeleton`, as st-gcn's pkl
    with staged_outputs(out):  # a re-run replaces finished outputs only once its own are complete
        for split in ("train", "val"):
            report.splits.append(write_split(out, split, tasks[split], _load_task, num_frames=frames,
                                             max_frames=max_frames, workers=workers, progress=progress,
                                             rotation=rotation, publish=False))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Prepare NTU RGB+D 60/120 raw .skeleton files (st-gcn array format).")
    ap.add_argument("--raw", required=True, help="folder with the .skeleton files (searched recursively)")
    ap.add_argument("--out", required=True, help="output folder for {train,val}_{data,position}.npy + _label.pkl")
    ap.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    ap.add_argument("--frames", type=int, default=50, help="frames of the normalised position arrays")
    ap.add_argument("--max-frames", type=int, default=300, help="frames of the data arrays (st-gcn: 300)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parser processes")
    ap.add_argument("--ignore-list", default=None,
                    help="text file of sample names to skip (replaces the shipped official missing-skeleton list)")
    ap.add_argument("--bodies", choices=BODY_RULES, default="lineage",
                    help="lineage (default): the first two bodies listed in each frame, as st-gcn/CrosSCLR/AimCLR "
                         "ntu_gendata; energy: the two bodyIDs with the most motion (2s-AGCN/CTR-GCN)")
    ap.add_argument("--rotation", choices=ROTATIONS, default="clip",
                    help="y rotation of the position arrays: clip (default): one angle sign per clip, as the "
                         "CrosSCLR/AimCLR preprocess; frame: shoulders along x in every frame")
    ap.add_argument("--no-progress", action="store_true")
    add_debug_argument(ap)
    args = ap.parse_args(argv)
    return run_cli(prepare_ntu, args.raw, args.out, args.benchmark, args.frames, args.workers, args.ignore_list,
                   args.max_frames, progress=not args.no_progress, bodies=args.bodies, rotation=args.rotation)
