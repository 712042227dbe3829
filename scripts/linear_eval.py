#!/usr/bin/env python
"""Linear evaluation (Tables 1, 4).

    python scripts/linear_eval.py --config configs/ntu60_xsub.yaml --checkpoint runs/ntu60_xsub/last.pt
    options: --random-init | --with-random-init, --with-input (the input clips' own probe), --no-cache,
             --set eval.linear_epochs=100 ...
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.evaluate import linear_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(linear_main())
