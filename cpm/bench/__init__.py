"""Performance benchmark of the cpm pipeline (issue 7): `python scripts/benchmark.py [--device cpu|cuda] [--quick]`.

One module per section: `trainer` (`scripts/pretrain.py` as users run it against an independent lineage-style
reference script, alternating processes), `pipeline` (our training step against the reference-style feeding of
the same model, per-step breakdown), `compute` (encoder GFLOP/s against dense matmul), `evaluation` (cached vs
re-encoding linear probe), `prep` (raw NTU preparation files/s), `memory` (host RSS while training from a
memory-mapped array); `setup` builds the shared config and data, `timing` the clocks, `report` the table and JSON.
"""
