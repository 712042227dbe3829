"""`python scripts/benchmark.py [--device cpu|cuda] [--quick] [--json PATH]`: run the sections, print the table."""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from cpm.bench import report
from cpm.bench.setup import SECTIONS, BenchOptions, make_config, pick_threads, write_arrays
from cpm.bench.timing import machine_info
from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded
from cpm.errors import CPMError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmark", description=__doc__.strip().splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available")
    p.add_argument("--quick", action="store_true",
                   help="fewer steps, smaller side sections (about 8 min on 2 quiet CPU cores, most of it 'trainer')")
    p.add_argument("--json", default=None, help="output JSON (default runs/benchmark/benchmark_<device>[_quick].json)")
    p.add_argument("--batch", type=int, help="training batch (default 512 on CUDA, 32 on CPU, 16 with --quick)")
    p.add_argument("--steps", type=int, help="timed steps per window")
    p.add_argument("--warmup", type=int, help="untimed steps before each window")
    p.add_argument("--rounds", type=int, help="alternating ours/reference windows")
    p.add_argument("--workers", type=int, help="DataLoader workers of both pipelines (default 2)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default on CPU: 1 or all cores, "
                                               "whichever runs a small encoder step faster right now)")
    p.add_argument("--train-samples", type=int, help="rows of the generated training array")
    p.add_argument("--eval-samples", type=int, help="clips of the linear-probe benchmark")
    p.add_argument("--eval-epochs", type=int, help="linear-probe epochs (default 100, the protocol)")
    p.add_argument("--prep-files", type=int, help="generated .skeleton files for the preparation benchmark")
    p.add_argument("--mem-gb", type=float, help="size of the memory-mapped array of the memory section (default 1)")
    p.add_argument("--trainer-batches", type=int, nargs="+",
                   help="batch sizes of the pretrain.py section (default 64 16 on CPU, 512 on CUDA)")
    p.add_argument("--trainer-steps", type=int, help="timed steady-state steps per pretrain.py / reference process")
    p.add_argument("--reference", default=None,
                   help="reference script printing '<x> samples/s' (default on CPU: ../shared/bench/refpipe.py "
                        "next to this checkout, if present); 'none' = pretrain.py alone")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    add_set_argument(p, "model.hidden_channels=4 (smoke tests)")
    add_debug_argument(p)
    return p.parse_args(argv)


def run(opts: BenchOptions, threads: int | None, command: str, log=print) -> dict:
    """All requested sections; returns the results dict (machine, command, config, sections)."""
    from cpm.bench.ceiling import encoder_ceiling
    from cpm.bench.compute import encoder_efficiency
    from cpm.bench.evaluation import linear_eval_speed
    from cpm.bench.memory import memory_profile
    from cpm.bench.pipeline import Ours, breakdown, throughput
    from cpm.bench.prep import prepare_speed
    from cpm.bench.trainer import trainer_vs_reference
    from cpm.models import build_model
    from cpm.runtime.host_memory import keep_freed_memory

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cpm_bench_") as tmp:
        cfg = make_config(opts, tmp)
        keep_freed_memory()  # as the trainer does
        threads, calibration = pick_threads(opts.device, cfg, threads)
        torch.set_num_threads(threads)
        results = {"machine": {**machine_info(opts.device), **calibration}, "command": command, "sections": {}}
        sec = results["sections"]
        results["config"] = {"input": [cfg.model.in_channels, cfg.data.num_frames, 25, cfg.data.max_persons],
                             "hidden_channels": cfg.model.hidden_channels, "hidden_dim": cfg.model.hidden_dim,
                             "queue_size": cfg.loss.queue_size, "topk": cfg.loss.topk, "batch": opts.batch,
                             "quick": opts.quick, "options": {k: v for k, v in vars(opts).items()
                                                              if k not in ("device", "sections")}}

        def done(name):
            log(f"[{time.perf_counter() - start:6.1f} s] {name} done", file=sys.stderr, flush=True)

        if "trainer" in opts.sections:  # first: the processes it starts have the machine to themselves
            sec["trainer"] = trainer_vs_reference(opts, threads, log)
            done("trainer")
        if "ceiling" in opts.sections:
            sec["ceiling"] = encoder_ceiling(cfg, opts, sec.get("trainer"))
            done("ceiling")
        write_arrays(tmp, "train", opts.train_samples, cfg)
        ours = None
        if "throughput" in opts.sections:
            sec["throughput"], ours = throughput(cfg, opts)
            done("throughput")
        if "breakdown" in opts.sections:
            if ours is None:
                torch.manual_seed(0)
                ours = Ours(build_model(cfg).to(opts.device).train(), cfg, opts.device)
            sec["breakdown"] = breakdown(ours, opts)
            done("breakdown")
        del ours
        if "encoder" in opts.sections:
            sec["encoder"] = encoder_efficiency(cfg, opts)
            done("encoder")
        if "linear_eval" in opts.sections:
            write_arrays(tmp, "probe", opts.eval_samples, cfg, seed=2)
            sec["linear_eval"] = linear_eval_speed(cfg, opts)
            done("linear_eval")
        if "data_prep" in opts.sections:
            sec["data_prep"] = prepare_speed(Path(tmp), opts.prep_files, cfg.data.num_frames)
            done("data_prep")
    if "memory" in opts.sections:
        sec["memory"] = memory_profile(cfg, opts, threads)
        done("memory")
    results["total_s"] = time.perf_counter() - start
    return results


def reference_script(given: str | None, device: torch.device) -> Path | None:
    """The reference of the pretrain.py section: `--reference`, else the lineage-style script next to this
    checkout on CPU (it runs on the CPU only); 'none' = no reference."""
    from cpm.bench.trainer import default_reference

    if given is None:
        return default_reference() if device.type == "cpu" else None
    if given.lower() == "none":
        return None
    if not Path(given).is_file():
        raise CPMError(f"--reference {given}: file not found")
    return Path(given)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv) -> int:
    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CPMError("--device cuda: no CUDA device is available (use --device cpu)")
    device = torch.device(name)
    given = {k: getattr(args, k) for k in ("batch", "steps", "warmup", "rounds", "workers", "train_samples",
                                           "eval_samples", "eval_epochs", "prep_files", "mem_gb", "trainer_steps")}
    given["trainer_batches"] = tuple(args.trainer_batches) if args.trainer_batches else None
    given["reference"] = reference_script(args.reference, device)
    opts = BenchOptions.for_device(device, args.quick, overrides=args.overrides,
                                   sections=tuple(args.only or SECTIONS), **given)
    command = "python scripts/benchmark.py " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    results = run(opts, args.threads, command.strip())
    out = Path(args.json or f"runs/benchmark/benchmark_{name}{'_quick' if args.quick else ''}.json")
    report.write_json(results, out)
    print(report.table(results))
    print(f"json: {out}  ({results['total_s']:.0f} s)")
    return 0
