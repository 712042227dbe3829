#!/usr/bin/env python
"""Mining precision per epoch (Fig. 3): python scripts/plot_mining.py runs/cpm runs/cpm_wo_pm --out figs/mining"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.tools import plot_mining_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(plot_mining_main())
