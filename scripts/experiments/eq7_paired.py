#!/usr/bin/env python
"""Eq. 7 as written vs renormalised, paired on the same stage 1 (issue 13), on MSR Action3D (CPU-sized).

    python scripts/experiments/eq7_paired.py                      # 3 seeds, configs/msr_action3d.yaml
    python scripts/experiments/eq7_paired.py --seeds 0 1 2 3 4 --set train.epochs=40 loss.pe_start_epoch=30 \
        train.save_every=30                                       # shorter, more seeds

Per seed, with the public commands (logs under <out>/seed<s>/logs/):
  1. scripts/pretrain.py   both stages with Eq. 7 as written (loss.renormalize=false)          -> written/
  2. scripts/pretrain.py   resumed from written/epoch_<pe_start>.pt with loss.renormalize=true -> renormalized/
     (stage 1 does not use Eq. 7 and the checkpoint restores every random stream, so the pair differs in Eq. 7 only)
  3. scripts/linear_eval.py and knn_eval.py on both
then <out>/summary.md: mean +- std of each reading and the paired difference (renormalised - written).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpm.cli.common import add_set_argument  # noqa: E402
from cpm.config import load_config  # noqa: E402
from cpm.data import build_dataset  # noqa: E402
from cpm.errors import CPMError  # noqa: E402
from cpm.eval.plots import mining_curve  # noqa: E402
from msr_action3d import DEFAULT_DATA, Runner, check_stage1_kept  # noqa: E402

READINGS = ("written", "renormalized")
METRICS = (("linear", "Linear top-1 (%)"), ("knn", "kNN top-1 (%)"), ("mining", "Mining precision, last epoch (%)"))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--config", default="configs/msr_action3d.yaml", help="pretraining config (stage 2 must start "
                   "at a kept checkpoint: train.save_every divides loss.pe_start_epoch)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="MSR Action3D folder (holding skeleton3D/)")
    p.add_argument("--out", default="runs/eq7_paired", help="output folder")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="seeds run in parallel")
    p.add_argument("--threads", type=int, default=2, help="CPU threads shared by the parallel commands")
    add_set_argument(p, "train.epochs=40 (passed to every command)")
    return p.parse_args(argv)


def pair(run: Runner, cfg_path: str, sets: list, seed_dir: Path, seed: int, pe: int) -> None:
    """Both readings of one seed: the full run as written, then stage 2 again from its stage-1 checkpoint."""
    written, renorm, logs = seed_dir / "written", seed_dir / "renormalized", seed_dir / "logs"
    seed_sets = ["--set", *sets, f"train.seed={seed}"]
    run("pretrain.py", ["--config", cfg_path, "--out", written, "--force", *seed_sets, "loss.renormalize=false"],
        logs / "pretrain_written.log")
    stage1 = f"epoch_{pe:04d}.pt"
    if renorm.exists():
        shutil.rmtree(renorm)
    renorm.mkdir(parents=True)
    shutil.copy2(written / stage1, renorm / stage1)
    shutil.copy2(written / "metrics.jsonl", renorm / "metrics.jsonl")  # stage-1 records, kept up to the resume step
    run("pretrain.py", ["--config", cfg_path, "--out", renorm, "--resume", renorm / stage1, *seed_sets,
                        "loss.renormalize=true"], logs / "pretrain_renormalized.log")
    for d in (written, renorm):
        common = ["--checkpoint", d / "last.pt", "--seed", seed, "--no-progress", *seed_sets]
        run("linear_eval.py", [*common, "--out", d / "linear"], logs / f"linear_{d.name}.log")
        run("knn_eval.py", [*common, "--out", d / "knn"], logs / f"knn_{d.name}.log")


def _read(run_dir: Path) -> dict:
    """linear / kNN top-1 and the last epoch's mining precision of one pretraining run (None where missing)."""
    out = {}
    for key in ("linear", "knn"):
        f = run_dir / key / "results.json"
        out[key] = json.loads(f.read_text())["metrics"]["top1"] if f.is_file() else None
    out["mining"] = float(mining_curve(run_dir)[1][-1]) if (run_dir / "metrics.jsonl").is_file() else None
    return out


def _fmt(values, signed: bool = False) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "–"
    mean = f"{v.mean():+.1f}" if signed else f"{v.mean():.1f}"
    return f"{mean} ± {v.std(ddof=1):.1f}" if v.size > 1 else mean


def summarize(out: Path, seeds, header: str) -> str:
    """Mean ± std (sample std) of each reading and of the per-seed difference; writes summary.md / summary.json."""
    per = {s: {r: _read(out / f"seed{s}" / r) for r in READINGS} for s in seeds}
    lines = [header, "", "| Eq. 7 | " + " | ".join(label for _, label in METRICS) + " |", "|---" * 4 + "|"]
    for r in READINGS:
        lines.append(f"| {r} | " + " | ".join(_fmt([per[s][r][m] for s in seeds]) for m, _ in METRICS) + " |")
    diffs = {m: [None if None in (per[s]["renormalized"][m], per[s]["written"][m])
                 else per[s]["renormalized"][m] - per[s]["written"][m] for s in seeds] for m, _ in METRICS}
    lines.append("| renormalised − written (paired) | " + " | ".join(_fmt(diffs[m], signed=True) for m, _ in METRICS)
                 + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"seeds": list(seeds), "per_seed": per, "paired": diffs}, indent=2))
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    try:
        sets = [f"data.root={Path(args.data).resolve()}", "logging.progress=false", "logging.tensorboard=false",
                *args.overrides]
        cfg = load_config(REPO / args.config, sets)
        counts = {split: len(build_dataset(cfg.data, split)) for split in ("train", "test")}  # fails early on bad data
        pe = check_stage1_kept(cfg)
        jobs = max(1, args.jobs)
        run = Runner(max(1, args.threads // jobs))
        print(f"{counts['train']} training / {counts['test']} evaluation clips; {len(args.seeds)} seeds x 2 readings "
              f"of Eq. 7 -> {out}", flush=True)
        with ThreadPoolExecutor(jobs) as pool:
            for f in [pool.submit(pair, run, args.config, sets, out / f"seed{s}", s, pe) for s in args.seeds]:
                f.result()
    except CPMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # a command failed; its log is named
        print(f"error: {err}", file=sys.stderr)
        return 1
    header = (f"Eq. 7 as written vs renormalised, same stage 1 per seed ({args.config}, {' '.join(args.overrides)}; "
              f"seeds {' '.join(map(str, args.seeds))}; {(time.perf_counter() - t0) / 60:.1f} min): mean ± std")
    print(summarize(out, args.seeds, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
