#!/usr/bin/env python
"""Full fine-tuning (Table 3).

    python scripts/finetune.py --config C --checkpoint runs/X/last.pt; supervised baseline: --from-scratch
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.cli.evaluate import finetune_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(finetune_main())
