#!/usr/bin/env python
"""Accuracy vs a pretraining hyper-parameter (Fig. 4 K, Fig. 5 tau').

    python scripts/plot_sweep.py runs/ --key loss.topk --out figs/fig4
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.tools import plot_sweep_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(plot_sweep_main())
