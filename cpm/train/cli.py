"""``cpm-pretrain`` / ``scripts/pretrain.py``: pretrain CPM from a YAML config."""
from __future__ import annotations

import argparse
import os
import sys

from cpm.errors import CPMError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cpm-pretrain", description="Pretrain CPM (two stages) from a YAML config.")
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/ntu60_xsub.yaml")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override config keys, e.g. --set optim.lr=0.25 train.epochs=10")
    p.add_argument("--out", default=None, help="run folder (default: train.out_dir of the config)")
    p.add_argument("--resume", default=None, metavar="auto|PATH",
                   help="continue a run: 'auto' = <out>/last.pt if present, or a checkpoint path")
    p.add_argument("--force", action="store_true", help="overwrite the checkpoints of another run in --out")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from cpm.config import load_config
        from cpm.train.trainer import pretrain

        cfg = load_config(args.config, args.overrides)
        result = pretrain(cfg, out_dir=args.out, resume=args.resume, force=args.force)
    except CPMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume auto (the last completed epoch is in last.pt)", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: rank 0 speaks (the process group is gone by now)
        print(f"checkpoint: {result.checkpoint}")
        print(f"tensorboard: tensorboard --logdir {result.tb_dir}")
        print(f"metrics: {result.metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
