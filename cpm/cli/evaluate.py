"""Entry points of the evaluation protocols (scripts/linear_eval.py, knn_eval.py, semi_supervised.py,
finetune.py are thin wrappers around these `main` functions; so are the cpm-* console scripts).

Common options: --config (dataset and eval settings; default: the checkpoint's own config), --checkpoint,
--set KEY=VALUE overrides, --out (default: <checkpoint folder>/eval/<protocol>), --device, --seed.
Each run writes results.json, scores.npy + labels.npy (test-set scores) and confusion.png into --out.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from cpm.runtime.checkpoint import load_checkpoint
from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded
from cpm.config import Config, apply_overrides, config_from_dict, load_config
from cpm.errors import CPMError


def guarded(fn):
    """Wrap a main(argv) in the shared error boundary (cpm/cli/common.py): one 'error: ...' line and an exit
    code per kind of failure; the parser of `fn` must accept --debug (add_common or add_debug_argument)."""
    def main(argv=None) -> int:
        return run_guarded(lambda: fn(argv), argv)
    main.__doc__ = fn.__doc__
    return main


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="YAML config: its data section is the dataset evaluated on, its eval section the protocol "
                        "settings (default: the config stored in the checkpoint)")
    p.add_argument("--checkpoint", default=None, help="pretraining checkpoint, e.g. runs/ntu60_xsub/last.pt")
    add_set_argument(p, "eval.linear_epochs=10 data.num_workers=0")
    p.add_argument("--out", default=None, help="output folder (default: <checkpoint folder>/eval/<protocol>)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: train.device of the config)")
    p.add_argument("--seed", type=int, default=None, help="classifier init and batch order (default: train.seed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_debug_argument(p)


def resolve_config(config, state: dict | None, overrides) -> Config:
    """The evaluation config: --config with overrides, else the stored config of the checkpoint (its contents,
    `state`) with overrides."""
    if config is not None:
        return load_config(config, overrides)
    if state is None:
        raise CPMError("--config is required when no --checkpoint is given (it names the dataset)")
    return config_from_dict(apply_overrides(state["config"], overrides))


@dataclass
class Run:
    cfg: Config
    device: torch.device
    out: Path
    seed: int
    progress: bool
    state: dict | None = None  # the checkpoint's contents, read once here and handed to load_eval_encoder


def setup(args, protocol: str, checkpoint=None) -> Run:
    """Config, device, output folder and seed of one evaluation run."""
    from cpm.runtime.device import pick_device

    checkpoint = checkpoint if checkpoint is not None else args.checkpoint
    state = None if checkpoint is None else load_checkpoint(checkpoint, required=("model", "config"))
    cfg = resolve_config(args.config, state, args.overrides)
    device = pick_device(args.device or cfg.train.device, key="--device" if args.device else "train.device")
    if args.out:
        out = Path(args.out)
    elif checkpoint is not None:
        out = Path(checkpoint).resolve().parent / "eval" / protocol
    else:
        out = Path("runs") / "eval" / protocol
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after the evaluation
    seed = cfg.train.seed if args.seed is None else args.seed
    torch.manual_seed(seed)
    return Run(cfg, device, out, seed, not args.no_progress, state)


def datasets(cfg: Config):
    """(train, test) splits of the evaluation data."""
    from cpm.data import build_dataset

    return build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test")


def _summary(res: dict, keys=("top1", "top5", "reported", "last", "best", "per_class", "confusion", "num_test",
                               "top1_standardized")) -> dict:
    return {k: res[k] for k in keys if k in res} | {"num_train": res.get("num_train"),
                                                    "num_classes": res.get("num_classes")}


def finish(run: Run, protocol: str, res: dict, ev, checkpoint, title: str, **extra) -> Path:
    """Write scores.npy/labels.npy, confusion.png, per_class.md and results.json (with the config that built the
    encoder, `pretrain_config`, for hyper-parameter sweeps); print the one-line summary. Classes are named
    by `data.class_names` / `data.class_names_file` of the evaluation config when it gives them."""
    from cpm.data.classes import class_names_of
    from cpm.eval.outputs import write_outputs
    from cpm.eval.records import make_record

    names = class_names_of(run.cfg.data, res["num_classes"])
    record = make_record(protocol, _summary(res), run.cfg, checkpoint, **extra, class_names=names,
                         pretrain_config=ev.model_cfg.to_dict())
    path = write_outputs(run.out, res, res["scores"], res["labels"], record, title, names, res.get("logits"))
    z = f" (standardised probe {res['top1_standardized']:.2f}%)" if "top1_standardized" in res else ""
    epochs = (f" [{res['reported']} epoch; last (epoch {res['last']['epoch']}) {res['last']['top1']:.2f}%, best "
              f"(epoch {res['best']['epoch']}) {res['best']['top1']:.2f}%]") if "reported" in res else ""
    print(f"{title}: top-1 {res['top1']:.2f}%{z}  top-5 {res['top5']:.2f}%{epochs}  ({res['num_test']} test clips, "
          f"{res['num_classes']} classes) -> {path}")
    return path


def _input_baseline(run, sets) -> str:
    """Probe the input clips (`input_probes`), write <out>_input/results.json, print and return the summary."""
    from cpm.eval.protocols import input_probes
    from cpm.eval.records import make_record, write_results

    res = input_probes(run.cfg, run.seed, run.device, sets)
    path = write_results(run.out.with_name(run.out.name + "_input"),
                         make_record("input_probes", res, run.cfg, seed=run.seed))
    print(f"input clips (no encoder): standardised probe {res['linear_std']:.2f}%, kNN {res['knn']:.2f}% -> {path}")
    return f"standardised {res['linear_std']:.2f}% (kNN {res['knn']:.2f}%)"


@guarded
def linear_main(argv=None) -> None:
    """Linear evaluation of a frozen pretrained encoder (paper Sec. 4.2, Tables 1 and 4)."""
    from cpm.eval.features import load_eval_encoder
    from cpm.eval.linear import linear_eval
    from cpm.eval.records import variant_of

    p = argparse.ArgumentParser(prog="cpm-linear-eval", description=linear_main.__doc__)
    add_common(p)
    p.add_argument("--random-init", action="store_true", help="evaluate the same encoder at random init")
    p.add_argument("--with-random-init", action="store_true",
                   help="also evaluate the same encoder at random init (into <out>_random_init) and print both")
    p.add_argument("--with-input", action="store_true",
                   help="also probe the input clips themselves, no encoder (standardised linear probe and kNN, "
                        "into <out>_input): the baseline an encoder has to beat")
    p.add_argument("--no-cache", action="store_true",
                   help="re-encode every batch every epoch (slow path, for comparison) instead of caching features")
    args = p.parse_args(argv)
    run = setup(args, "linear_random_init" if args.random_init else "linear")
    if args.no_cache and run.cfg.eval.linear_standardize:
        print("note: --no-cache: the standardised probe (eval.linear_standardize) needs cached features; skipped")
    train_set, test_set = datasets(run.cfg)
    modes = [args.random_init] + ([True] if args.with_random_init and not args.random_init else [])
    top1 = {}
    for random_init in modes:
        out = run.out if random_init == args.random_init else run.out.with_name(run.out.name + "_random_init")
        ev = load_eval_encoder(run.cfg, args.checkpoint, random_init, run.seed, run.state)
        t0 = time.perf_counter()
        res = linear_eval(ev, train_set, test_set, run.cfg.eval, run.device, run.seed, cache=not args.no_cache,
                          num_workers=run.cfg.data.num_workers, progress=run.progress)
        finish(replace(run, out=out), "linear", res, ev, args.checkpoint, f"linear eval ({ev.source})",
               stream=ev.stream, variant=variant_of(ev.model_cfg, random_init), cached=not args.no_cache,
               seconds=round(time.perf_counter() - t0, 3), history=res["history"], device=str(run.device))
        z = f" (standardised {res['top1_standardized']:.2f}%)" if "top1_standardized" in res else ""
        top1["random init" if random_init else "pretrained"] = f"{res['top1']:.2f}%{z}"
    if args.with_input:
        top1["input clips"] = _input_baseline(run, (train_set, test_set))
    if len(top1) > 1:
        print("linear top-1: " + " | ".join(f"{k} {v}" for k, v in top1.items()))


@guarded
def knn_main(argv=None) -> None:
    """Weighted cosine kNN (eval.knn_k, eval.knn_t) on frozen features: no training."""
    from cpm.eval.features import load_eval_encoder
    from cpm.eval.protocols import knn_eval
    from cpm.eval.records import variant_of

    p = argparse.ArgumentParser(prog="cpm-knn-eval", description=knn_main.__doc__)
    add_common(p)
    p.add_argument("--random-init", action="store_true", help="evaluate the same encoder at random init")
    args = p.parse_args(argv)
    run = setup(args, "knn_random_init" if args.random_init else "knn")
    ev = load_eval_encoder(run.cfg, args.checkpoint, args.random_init, run.seed, run.state)
    train_set, test_set = datasets(run.cfg)
    t0 = time.perf_counter()
    res = knn_eval(ev, train_set, test_set, run.cfg.eval, run.device, run.cfg.data.num_workers, run.progress)
    finish(run, "knn", res, ev, args.checkpoint, f"kNN k={run.cfg.eval.knn_k} ({ev.source})", stream=ev.stream,
           variant=variant_of(ev.model_cfg, args.random_init), k=run.cfg.eval.knn_k, t=run.cfg.eval.knn_t,
           seconds=round(time.perf_counter() - t0, 3), device=str(run.device))


def _finetune_run(args, fraction: float | None) -> None:
    from cpm.eval.features import load_eval_encoder
    from cpm.data.classes import class_names_of
    from cpm.eval.finetune import (CLASSIFIER_FILE, check_fraction, finetune, labelled_subset, load_augment,
                                   save_classifier)
    from cpm.eval.records import variant_of

    if fraction is not None:
        check_fraction(fraction)
    tag = f"semi_{100 * fraction:g}pct" if fraction is not None else "finetune"
    run = setup(args, tag + ("_scratch" if args.from_scratch else ""))
    ev = load_eval_encoder(run.cfg, args.checkpoint, args.from_scratch, run.seed, run.state)
    train_set, test_set = datasets(run.cfg)
    indices = None
    if fraction is not None:
        indices = labelled_subset(train_set.labels, fraction, run.cfg.eval.label_seed, run.out, args.subset)
        print(f"labelled subset: {len(indices)} of {len(train_set)} training clips ({100 * fraction:g}%)")
    from cpm.data.dataset import coord_dims

    augment = load_augment(run.cfg.eval.finetune_augment, run.cfg.data.augment, coord_dims(run.cfg.data.channels))
    t0 = time.perf_counter()
    res = finetune(ev.encoder, train_set, test_set, ev.stream, run.cfg.eval, run.device, indices=indices,
                   augment=augment, seed=run.seed, amp=run.cfg.train.amp, num_workers=run.cfg.data.num_workers,
                   progress=run.progress)
    kept = save_classifier(res["model"], run.out / CLASSIFIER_FILE, ev.model_cfg,
                           class_names_of(run.cfg.data, res["num_classes"]))
    protocol = "semi" if fraction is not None else "finetune"
    title = f"{protocol} {'from scratch' if args.from_scratch else f'({ev.source})'}"
    extra = {"fraction": fraction} if fraction is not None else {}
    finish(run, protocol, res, ev, args.checkpoint, title, stream=ev.stream,
           variant=variant_of(ev.model_cfg, from_scratch=args.from_scratch), **extra, classifier=str(kept),
           seconds=round(time.perf_counter() - t0, 3), history=res["history"], device=str(run.device))


@guarded
def semi_main(argv=None) -> None:
    """Semi-supervised evaluation (Table 2): fine-tune encoder + classifier on a class-balanced label fraction."""
    p = argparse.ArgumentParser(prog="cpm-semi-supervised", description=semi_main.__doc__)
    add_common(p)
    p.add_argument("--fraction", type=float, required=True, help="labelled fraction in (0, 1], e.g. 0.01 or 0.1")
    p.add_argument("--subset", default=None, help="reuse a label_subset.json written by an earlier run")
    p.add_argument("--from-scratch", action="store_true", help="same network from random init (supervised baseline)")
    args = p.parse_args(argv)
    _finetune_run(args, args.fraction)


@guarded
def finetune_main(argv=None) -> None:
    """Full fine-tuning (Table 3): encoder + linear classifier trained on all training labels."""
    p = argparse.ArgumentParser(prog="cpm-finetune", description=finetune_main.__doc__)
    add_common(p)
    p.add_argument("--from-scratch", action="store_true",
                   help="train the same network from random init (the supervised ST-GCN baseline row)")
    args = p.parse_args(argv)
    args.subset = None
    _finetune_run(args, None)
