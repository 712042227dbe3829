#!/usr/bin/env python
"""Pretrain CPM: python scripts/pretrain.py --config configs/ntu60_xsub.yaml [--set k=v ...] [--resume auto|PATH]

Multi-GPU: torchrun --nproc_per_node=4 scripts/pretrain.py --config configs/ntu60_xsub.yaml
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.pretrain import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
