#!/usr/bin/env python
"""CPM on the real MSR Action3D skeletons, end to end (issue 8): the whole table from scratch, 3 seeds.

    python scripts/experiments/msr_action3d.py                  # cross-subject test table (~20 min, 2 CPU cores)
    python scripts/experiments/msr_action3d.py --protocol val   # the same on the validation split (model selection)

Per seed, with the public commands (each printed, its log under <out>/seed<s>/logs/):
  1. scripts/pretrain.py    CPM, both stages, on the training clips without labels            -> cpm/
  2. scripts/pretrain.py    CPM w/o positive mining: stage 1 of run 1 continued without stage 2
                            (resumed from cpm/epoch_<pe_start>.pt with loss.pe_start_epoch = train.epochs;
                            the same run as a fresh one, minus the repeated stage-1 compute) -> cpm_wo_pm/
  3. scripts/finetune.py --from-scratch   supervised ST-GCN on the training labels (upper reference)
  4. scripts/linear_eval.py and knn_eval.py on CPM, CPM w/o PM and the same encoder at random init
then scripts/plot_mining.py (Fig. 3 on this data, and the kNN / self-copy / spread curves of every run),
scripts/results_table.py (every run) and the mean +- std table of this experiment (<out>/summary.md,
summary.json), with the kNN and the standardised linear probe of the input clips themselves
(cpm.eval.protocols.input_probes: what an encoder has to beat). The release's files are read directly
(`format: msr_action3d`, centred at load).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded  # noqa: E402
from cpm.config import load_config  # noqa: E402
from cpm.data import build_dataset  # noqa: E402
from cpm.errors import CPMError  # noqa: E402
from cpm.eval.protocols import input_probes  # noqa: E402
from msr_summary import summarize  # noqa: E402

CONFIGS = {"xsub": "configs/msr_action3d.yaml", "val": "configs/msr_action3d_val.yaml"}
DEFAULT_DATA = REPO.parent / "shared" / "data" / "msr_action3d"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--protocol", choices=sorted(CONFIGS), default="xsub",
                   help="xsub: train subjects 1,3,5,7,9 / test 2,4,6,8,10; val: train 1,3,5 / validate 7,9")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="MSR Action3D folder (holding skeleton3D/)")
    p.add_argument("--out", default=None, help="output folder (default runs/msr_action3d[_val])")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="commands run in parallel")
    p.add_argument("--threads", type=int, default=2, help="CPU threads shared by the parallel commands")
    add_set_argument(p, "train.epochs=20 (passed to every command)")
    add_debug_argument(p)
    return p.parse_args(argv)


class CommandFailed(RuntimeError):
    """One of the experiment's commands exited non-zero."""


class Runner:
    """Runs the scripts as subprocesses (one log file each), `threads` torch threads per command."""

    def __init__(self, threads: int):
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                        PYTHONUNBUFFERED="1")

    def __call__(self, script: str, args: list, log: Path) -> None:
        cmd = [sys.executable, str(REPO / "scripts" / script), *map(str, args)]
        log.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            rc = subprocess.run(cmd, cwd=REPO, env=self.env, stdout=f, stderr=subprocess.STDOUT).returncode
        tail = log.read_text().strip().splitlines()[-1:] or [""]
        print(f"[{time.perf_counter() - t0:6.0f} s] {script} -> {log.parent.parent.name}/{log.stem}: {tail[0][:150]}",
              flush=True)
        if rc != 0:
            raise CommandFailed(f"{' '.join(cmd)} failed (exit {rc}); see {log}")


def check_stage1_kept(cfg) -> int:
    """pe_start_epoch, after checking that a checkpoint is kept there (runs branch off the end of stage 1)."""
    pe, epochs, every = cfg.loss.pe_start_epoch, cfg.train.epochs, cfg.train.save_every
    if not 0 < pe < epochs or pe % every:
        raise CPMError(f"loss.pe_start_epoch={pe}: the experiment needs 0 < pe_start_epoch < train.epochs={epochs} "
                       f"and a checkpoint kept there (train.save_every={every} must divide it)")
    return pe


def pretraining_chain(run: Runner, cfg_path: str, sets: list, seed_dir: Path, seed: int, cfg) -> None:
    """CPM (both stages) -> CPM w/o PM (stage 1 shared) -> linear + kNN of both."""
    seed_sets = ["--set", *sets, f"train.seed={seed}"]
    cpm, wo = seed_dir / "cpm", seed_dir / "cpm_wo_pm"
    logs = seed_dir / "logs"
    run("pretrain.py", ["--config", cfg_path, "--out", cpm, "--force", *seed_sets], logs / "pretrain_cpm.log")
    pe = cfg.loss.pe_start_epoch
    stage1 = f"epoch_{pe:04d}.pt"
    if wo.exists():
        shutil.rmtree(wo)
    wo.mkdir(parents=True)
    shutil.copy2(cpm / stage1, wo / stage1)
    shutil.copy2(cpm / "metrics.jsonl", wo / "metrics.jsonl")  # the trainer keeps the records up to the resume step
    run("pretrain.py", ["--config", cfg_path, "--out", wo, "--resume", wo / stage1, *seed_sets,
                        f"loss.pe_start_epoch={cfg.train.epochs}"], logs / "pretrain_cpm_wo_pm.log")
    for name in (cpm, wo):
        common = ["--config", cfg_path, "--checkpoint", name / "last.pt", "--seed", seed, "--no-progress", *seed_sets]
        run("linear_eval.py", [*common, "--out", name / "linear"], logs / f"linear_{name.name}.log")
        run("knn_eval.py", [*common, "--out", name / "knn"], logs / f"knn_{name.name}.log")


def reference_chain(run: Runner, cfg_path: str, sets: list, seed_dir: Path, seed: int) -> None:
    """Supervised ST-GCN from scratch, and the linear probe + kNN of the encoder at random init."""
    common = ["--config", cfg_path, "--seed", seed, "--no-progress", "--set", *sets, f"train.seed={seed}"]
    logs, rnd = seed_dir / "logs", seed_dir / "random_init"
    run("finetune.py", [*common, "--from-scratch", "--out", seed_dir / "supervised"], logs / "supervised.log")
    run("linear_eval.py", [*common, "--random-init", "--out", rnd / "linear"], logs / "linear_random_init.log")
    run("knn_eval.py", [*common, "--random-init", "--out", rnd / "knn"], logs / "knn_random_init.log")


def main(argv=None) -> int:
    args = parse_args(argv)

    def body() -> int:
        try:
            return run_experiment(args)
        except CommandFailed as err:  # its log is named; the command already reported why
            print(f"error: {err}", file=sys.stderr)
            return 1

    return run_guarded(body, argv)


def run_experiment(args) -> int:
    t0 = time.perf_counter()
    out = Path(args.out or f"runs/msr_action3d{'' if args.protocol == 'xsub' else '_val'}")
    out = out if out.is_absolute() else REPO / out
    cfg_path = CONFIGS[args.protocol]
    sets = [f"data.root={Path(args.data).resolve()}", "logging.progress=false", "logging.tensorboard=false",
            *args.overrides]
    cfg = load_config(REPO / cfg_path, sets)
    counts = {split: len(build_dataset(cfg.data, split)) for split in ("train", "test")}  # fails early on bad data
    print(f"MSR Action3D {args.protocol}: {counts['train']} training / {counts['test']} evaluation clips")
    check_stage1_kept(cfg)
    jobs = max(1, args.jobs)
    run = Runner(max(1, args.threads // jobs))
    print(f"{len(args.seeds)} seeds x (CPM, CPM w/o PM, supervised, random init); {jobs} parallel commands, "
          f"{max(1, args.threads // jobs)} thread(s) each -> {out}", flush=True)
    with ThreadPoolExecutor(jobs) as pool:  # the long pretraining chains first
        futures = [pool.submit(pretraining_chain, run, cfg_path, sets, out / f"seed{s}", s, cfg) for s in args.seeds]
        futures += [pool.submit(reference_chain, run, cfg_path, sets, out / f"seed{s}", s) for s in args.seeds]
        for f in futures:
            f.result()
    runs = [out / f"seed{s}" / v for s in args.seeds for v in ("cpm", "cpm_wo_pm")]
    labels = [f"{'CPM' if v == 'cpm' else 'CPM w/o PM'}, seed {s}" for s in args.seeds for v in ("cpm", "cpm_wo_pm")]
    run("plot_mining.py", [*runs, "--label", *labels, "--out", out / "figures"], out / "logs" / "plot_mining.log")
    run("results_table.py", [out, "--out", out / "results_table.md"], out / "logs" / "results_table.log")
    text = summarize(out, args.seeds, cfg, args.protocol, wall_s=time.perf_counter() - t0,
                     command="python " + " ".join(sys.argv), inputs=input_probes(cfg))
    print(text)
    print(f"total wall time {time.perf_counter() - t0:.0f} s; table {out / 'summary.md'}, "
          f"figure {out / 'figures' / 'mining_precision.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
