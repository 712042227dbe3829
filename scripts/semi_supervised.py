#!/usr/bin/env python
"""Semi-supervised fine-tuning (Table 2).

    python scripts/semi_supervised.py --config C --checkpoint runs/X/last.pt --fraction 0.01|0.1
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.evaluate import semi_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(semi_main())
