#!/usr/bin/env python
"""Weighted cosine kNN on frozen features.

    python scripts/knn_eval.py --config C --checkpoint runs/X/last.pt [--set eval.knn_k=20]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.evaluate import knn_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(knn_main())
