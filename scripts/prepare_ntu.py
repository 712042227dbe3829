#!/usr/bin/env python
"""Prepare raw NTU RGB+D 60/120 skeletons: `--raw DIR --out DIR --benchmark {xsub,xview,xsub120,xset120}`.

Writes {train,val}_data.npy (N, 3, 300, 25, 2), {train,val}_position.npy (N, 3, frames, 25, 2) and
{train,val}_label.pkl; see cpm/prepare/ntu.py. Exit code 1 if some files failed to parse (listed at the end).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.prepare.ntu import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
