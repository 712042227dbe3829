"""Section 0 (issue 14): `scripts/pretrain.py` as users run it against an independent lineage-style reference.

Both run as separate processes, alternating (the order flips every round, so a drift in the machine's load
does not favour one side), with the same intra-op threads and DataLoader workers. Ours: the paper's NTU
config on synthetic NTU-shaped clips (T 50, 25 joints, 2 persons, queue 65,536, fp32 on CPU), its own loop
and loader; its steady state = the step windows of `metrics.jsonl` after the first `warmup` steps (worker
start-up, first-touch allocations). The reference: a script printing "<x> samples/s" of its own steady-state
steps (e.g. ../shared/bench/refpipe.py, written outside this project), or none (ours alone, e.g. on CUDA
where that script cannot run).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cpm.bench.timing import median
from cpm.errors import CPMError

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "ntu60_xsub.yaml"
REFERENCE_GUESS = REPO.parent / "shared" / "bench" / "refpipe.py"  # where the reference lives
_RATE = re.compile(r"([0-9]+(?:\.[0-9]+)?) samples/s")


def default_reference() -> Path | None:
    """The reference script next to this checkout, if any (`--reference` names another)."""
    return REFERENCE_GUESS if REFERENCE_GUESS.is_file() else None


def pretrain_argv(batch: int, steps: int, warmup: int, opts, out: Path, root: Path = REPO) -> list[str]:
    """`scripts/pretrain.py` of the checkout `root` on the paper's NTU config, synthetic clips, one epoch of
    warmup + steps batches."""
    sets = ["data.format=synthetic", f"train.batch_size={batch}", f"data.num_workers={opts.workers}",
            f"data.synthetic.num_train={batch * (warmup + steps)}", "data.synthetic.num_test=16",
            f"train.device={opts.device}", "train.epochs=1", "schedule.warmup_epochs=1", "loss.pe_start_epoch=1",
            "eval.knn_every=0", "logging.log_every=1", "logging.tensorboard=false", "logging.progress=false",
            *opts.overrides]
    return [sys.executable, str(root / "scripts" / "pretrain.py"), "--config", str(root / CONFIG.relative_to(REPO)),
            "--out", str(out),
            "--force", "--set", *sets]


def steady_rate(metrics: Path, batch: int, skip: int) -> float:
    """Samples/s over the logged step windows after the first `skip` steps (total samples / total time)."""
    rates = [r["samples_per_s"] for r in map(json.loads, metrics.read_text().splitlines())
             if r["kind"] == "step" and r["step"] > skip]
    if not rates:
        raise CPMError(f"{metrics}: no step records after step {skip}")
    return len(rates) * batch / sum(batch / r for r in rates)


def _env(threads: int, root: Path) -> dict:
    # OMP_NUM_THREADS sets torch's intra-op threads at start-up, the way a user would pin them
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(root)}


def _run(argv: list[str], threads: int, what: str, root: Path = REPO) -> str:
    done = subprocess.run(argv, env=_env(threads, root), capture_output=True, text=True, cwd=root)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise CPMError(f"benchmark: {what} failed (exit {done.returncode}): {tail[0][:300]}")
    return done.stdout


def ours_rate(batch: int, opts, threads: int, root: Path = REPO) -> float:
    """Steady-state samples/s of one `scripts/pretrain.py` process (of the checkout `root`: A/B comparisons)."""
    with tempfile.TemporaryDirectory(prefix="cpm_bench_run_") as tmp:
        out = Path(tmp) / "run"
        _run(pretrain_argv(batch, opts.trainer_steps, opts.warmup_steps, opts, out, root), threads,
             "scripts/pretrain.py", root)
        return steady_rate(out / "metrics.jsonl", batch, opts.warmup_steps)


def reference_rate(script: Path, batch: int, opts, threads: int) -> float:
    """Samples/s printed by the reference script (same batch, steps, workers and threads as ours)."""
    argv = [sys.executable, str(script), "--batch", str(batch), "--steps", str(opts.trainer_steps),
            "--workers", str(opts.workers), "--threads", str(threads)]
    found = _RATE.findall(_run(argv, threads, f"reference {script}"))
    if not found:
        raise CPMError(f"benchmark: reference {script} printed no '<x> samples/s'")
    return float(found[-1])


def trainer_vs_reference(opts, threads: int, log=print) -> dict:
    """Per batch size: `opts.rounds` alternating rounds; medians and per-round ratios (ours / reference)."""
    script = opts.reference
    out = {"threads": threads, "steps": opts.trainer_steps, "warmup_steps": opts.warmup_steps,
           "reference": str(script) if script else None, "batches": {}}
    for batch in opts.trainer_batches:
        runs = {"ours": [], "reference": []}
        for r in range(opts.rounds):
            order = ("ours", "reference") if r % 2 == 0 else ("reference", "ours")
            for name in order:
                if name == "ours":
                    runs["ours"].append(ours_rate(batch, opts, threads))
                elif script is not None:
                    runs["reference"].append(reference_rate(script, batch, opts, threads))
            log(f"  trainer batch {batch} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in runs.items()
                                                                     if v), file=sys.stderr, flush=True)
        row = {"ours_samples_per_s": median(runs["ours"]), "ours_rounds": runs["ours"]}
        if runs["reference"]:
            ratios = [a / b for a, b in zip(runs["ours"], runs["reference"])]
            row.update(reference_samples_per_s=median(runs["reference"]), reference_rounds=runs["reference"],
                       ratio_rounds=ratios, ratio=median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))
        out["batches"][str(batch)] = row
    return out
