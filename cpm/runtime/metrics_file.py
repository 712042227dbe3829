"""The ``metrics.jsonl`` a pretraining run writes (cpm/train/logger.py) and plots read: name and reader.

Each line is one record ``{"kind": "step"|"epoch"|"eval", "epoch": e, "step": s, <tag>: value, ...}``.
"""
from __future__ import annotations

import json
from pathlib import Path

METRICS_FILE = "metrics.jsonl"


def read_metrics(path: str | Path, kind: str | None = None) -> list[dict]:
    """All records of a ``metrics.jsonl`` (optionally one kind), for plots and tests."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if kind is None or rec.get("kind") == kind:
            out.append(rec)
    return out
