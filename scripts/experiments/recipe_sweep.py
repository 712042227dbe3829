#!/usr/bin/env python
"""Compare pretraining recipes on one config, several seeds: the experiment behind issue 16's choices.

    python scripts/experiments/recipe_sweep.py --config configs/msr_action3d_val.yaml --seeds 0 1 2 \
        --variant paper: --variant ema:model.target_momentum=0.99 --out runs/sweep_val

Each variant is NAME:KEY=VALUE[,KEY=VALUE...] (config overrides on top of --config and --set). Per seed and
variant: pretrain in this process, then on the config's evaluation split kNN, the lineage linear probe and
the standardised probe, plus the same encoder at random init once per seed. Writes <out>/sweep.json and a
mean +- std markdown table <out>/sweep.md. Choose recipes with a `validation` config (msr_action3d_val.yaml),
or on MSR Action3D by leave-one-performer-out over the training subjects (--config configs/msr_action3d.yaml
--folds 1 3 5 7 9): the test subjects are then never read. `--seed-offset N` repeats a cross-validation with
seeds S + N, to tell a recipe's gain from the luck of one seed per fold.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from cpm import pretrain  # noqa: E402
from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded  # noqa: E402
from cpm.config import load_config  # noqa: E402
from cpm.eval.protocols import probe_encoder  # noqa: E402

METRICS = ("knn", "linear", "linear_std", "feat_spread", "feat_rank", "knn_drop")  # spread in %, drop in points


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                   help="a recipe: name, colon, comma-separated overrides (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--folds", type=int, nargs="+", default=None, metavar="SUBJECT",
                   help="MSR Action3D leave-one-performer-out instead of --seeds: fold S trains on the other "
                        "training subjects with seed S and validates on subject S (data.validation_subjects=[S])")
    add_set_argument(p, "train.epochs=40 (for every variant)")
    p.add_argument("--seed-offset", type=int, default=0,
                   help="with --folds: fold S runs seed S + this (repeat a cross-validation with other seeds)")
    p.add_argument("--out", default="runs/recipe_sweep")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-random-init", action="store_true", help="skip the random-init reference")
    add_debug_argument(p)
    args = p.parse_args(argv)
    if args.seed_offset and not args.folds:  # --seeds already names every seed: an offset would be ignored
        p.error("--seed-offset needs --folds (with --seeds, list the seeds themselves)")
    return args


def knn_drop(run_dir: Path) -> float | None:
    """Largest fall (points) of the logged kNN curve below its running best in the second half of training."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    curve = [(r["epoch"], r["knn_top1"]) for r in rows if r.get("kind") == "epoch" and "knn_top1" in r]
    if not curve:
        return None
    half = curve[-1][0] / 2
    best, drop = -1.0, 0.0
    for epoch, knn in curve:
        best = max(best, knn)
        if epoch >= half:
            drop = max(drop, best - knn)
    return drop


def fmt(values) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "-"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if v.size > 1 else f"{v[0]:.1f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: sweep(args), argv)  # a bad key, value or path: one `error:` line, not a traceback


def sweep(args: argparse.Namespace) -> int:
    """Run every (seed or fold) x variant cell not yet in <out>/sweep.json, then write the table."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [v.split(":", 1) for v in args.variant] or [["default", ""]]
    results_file = out / "sweep.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    base = ["logging.progress=false", "logging.tensorboard=false", *args.overrides]
    if args.folds:
        args.seeds = args.folds
    for seed in args.seeds:  # in fold mode the key names the held-out subject; the run uses seed + offset
        fold = ["data.validation=true", f"data.validation_subjects=[{seed}]"] if args.folds else []
        run_seed = seed + args.seed_offset if args.folds else seed
        if not args.no_random_init and f"random_init/{seed}" not in results:
            cfg = load_config(args.config, [*base, *fold, f"train.seed={run_seed}"])
            results[f"random_init/{seed}"] = probe_encoder(cfg, None, run_seed)
            results_file.write_text(json.dumps(results, indent=1))
        for name, sets in variants:
            key = f"{name}/{seed}"
            if key in results:  # resumable: finished cells are kept
                continue
            over = [s for s in sets.split(",") if s]
            cfg = load_config(args.config, [*base, *fold, *over, f"train.seed={run_seed}"])
            t0 = time.perf_counter()
            res = pretrain(cfg, out_dir=out / name / f"seed{seed}", force=True)
            row = probe_encoder(cfg, res.checkpoint, run_seed)
            last = [json.loads(x) for x in res.metrics.read_text().splitlines() if '"epoch"' in x][-1]
            spread = last.get("feat_spread")
            row.update(seed=run_seed, feat_spread=None if spread is None else 100 * spread,
                       feat_rank=last.get("feat_rank"),
                       knn_drop=knn_drop(res.out_dir), minutes=(time.perf_counter() - t0) / 60, overrides=over)
            results[key] = row
            results_file.write_text(json.dumps(results, indent=1))
            print(f"{key}: " + ", ".join(f"{k} {row[k]:.1f}" for k in ("knn", "linear", "linear_std")
                                          if row.get(k) is not None), flush=True)
    names = (["random_init"] if not args.no_random_init else []) + [n for n, _ in variants]
    runs = f"folds (held-out subject = seed) {args.folds}" if args.folds else f"seeds {args.seeds}"
    lines = [f"{args.config} {' '.join(args.overrides)}; {runs}; mean ± std", "",
             "| recipe | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for n in names:
        rows = [results.get(f"{n}/{s}") for s in args.seeds]
        cells = [fmt([r.get(m) if r else None for r in rows]) for m in METRICS]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "sweep.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
