#!/usr/bin/env python
"""Results tables like the paper's Tables 1-4: python scripts/results_table.py runs/ [--out results.md]"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.tools import results_table_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(results_table_main())
