#!/usr/bin/env python
"""Performance benchmark (issue 7): python scripts/benchmark.py [--device cpu|cuda] [--quick] [--json PATH]

Prints one table and writes a JSON: scripts/pretrain.py's steady-state samples/s against an independent reference
script (batch 64 and 16 on CPU, 512 on CUDA; ratio median and spread over alternating rounds), our step against a
reference-style pipeline, the breakdown of one step, encoder GFLOP/s against dense matmul, cached vs re-encoding linear evaluation, prepare_ntu files/s, host
memory while training from a >= 1 GB memory-mapped array. See cpm/bench/ and the README's Performance section.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cpm.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
