#!/usr/bin/env python
"""Prepare raw PKU-MMD (Part I/II): `--skeletons DIR --labels DIR --split-file cross-subject.txt --out DIR`.

Cuts the labelled clips and writes {train,val}_data.npy (N, 3, 300, 25, 2), {train,val}_position.npy and
{train,val}_label.pkl; the split file decides the benchmark (Part I cross-subject / cross-view, Part II
cross-subject). See cpm/prepare/pku.py. Exit code 1 if some files failed (listed at the end).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.prepare.pku import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
