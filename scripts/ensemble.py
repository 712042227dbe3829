#!/usr/bin/env python
"""3-stream ensemble (Table 1 3S).

    python scripts/ensemble.py runs/J/eval/linear runs/B/eval/linear runs/M/eval/linear --out runs/3s
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.tools import ensemble_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(ensemble_main())
