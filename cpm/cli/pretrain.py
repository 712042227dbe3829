"""``cpm-pretrain`` / ``scripts/pretrain.py``: pretrain CPM from a YAML config."""
from __future__ import annotations

import argparse
import os
import sys

from cpm.cli.common import add_debug_argument, add_set_argument, run_guarded


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cpm-pretrain", description="Pretrain CPM (two stages) from a YAML config.")
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/ntu60_xsub.yaml")
    add_set_argument(p)
    p.add_argument("--out", default=None, help="run folder (default: train.out_dir of the config)")
    p.add_argument("--resume", default=None, metavar="auto|PATH",
                   help="continue a run: 'auto' = <out>/last.pt if present, or a checkpoint path")
    p.add_argument("--force", action="store_true",
                   help="replace another run in --out (its checkpoints, metrics and TensorBoard events)")
    add_debug_argument(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args), argv,
                       interrupted="interrupted; continue with --resume auto (the last completed epoch is in last.pt)")


def _run(args: argparse.Namespace) -> int:
    from cpm.api import pretrain
    from cpm.config import load_config

    cfg = load_config(args.config, args.overrides)
    result = pretrain(cfg, out_dir=args.out, resume=args.resume, force=args.force)
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: rank 0 speaks (the process group is gone by now)
        print(f"checkpoint: {result.checkpoint}")
        print(f"tensorboard: tensorboard --logdir {result.tb_dir}")
        print(f"metrics: {result.metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
