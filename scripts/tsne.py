#!/usr/bin/env python
"""t-SNE (Fig. 6).

    python scripts/tsne.py --config C --checkpoint runs/cpm/last.pt --compare runs/cpm_wo_pm/last.pt --out figs/tsne
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.tools import tsne_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(tsne_main())
