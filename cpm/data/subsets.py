"""Class-balanced labelled subsets for the semi-supervised protocol (1 % / 10 % of the labels, Table 2).

The chosen indices are written next to the run (`save_subset`) so a result can be reproduced exactly.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cpm.errors import CPMError


def label_subset(labels, fraction: float, seed: int) -> np.ndarray:
    """Sorted int64 indices: round(fraction * n_c) samples of each class c (at least 1), same for the same seed.

    Rounding is half-up (floor(x + 0.5)): 0.5 of 5 samples keeps 3 (Python's round(2.5) would give 2).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise CPMError(f"label_subset: labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise CPMError(f"label_subset: labels must be integers, got dtype {labels.dtype}")
    if not 0.0 < fraction <= 1.0:
        raise CPMError(f"label_subset: fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):  # sorted, so the draw order does not depend on the sample order
        idx = np.flatnonzero(labels == c)
        k = max(1, int(np.floor(fraction * idx.size + 0.5)))
        chosen.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def save_subset(path, indices, *, fraction: float, seed: int, num_samples: int) -> Path:
    """Write the subset as JSON (indices + how they were drawn); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"fraction": fraction, "seed": seed, "num_samples": int(num_samples),
              "indices": [int(i) for i in np.asarray(indices)]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_subset(path, num_samples: int | None = None, fraction: float | None = None) -> np.ndarray:
    """Read indices written by `save_subset`; checks they fit a dataset of `num_samples` and were drawn as
    `fraction` of the labels when given (a run must not be recorded as 1 % while it trained on 50 %)."""
    path = Path(path)
    if not path.is_file():
        raise CPMError(f"label subset file not found: {path} (expected JSON written by save_subset)")
    try:
        record = json.loads(path.read_text())
        indices = np.asarray(record["indices"], dtype=np.int64)
        stored = int(record["num_samples"])
        drawn = record.get("fraction")
        drawn = None if drawn is None else float(drawn)
    except (ValueError, KeyError, TypeError) as err:
        raise CPMError(f"label subset file {path}: not a valid subset record ({err})") from None
    if num_samples is not None and stored != num_samples:
        raise CPMError(f"label subset file {path}: drawn from {stored} samples, but the dataset has {num_samples}")
    if fraction is not None and drawn is not None and not np.isclose(drawn, fraction, rtol=1e-9, atol=0):
        raise CPMError(f"--subset {path}: holds a {100 * drawn:g}% label subset ({indices.size} clips) but "
                       f"--fraction is {fraction:g} ({100 * fraction:g}%); pass --fraction {drawn:g} to reuse it, "
                       f"or leave out --subset to draw a new one")
    if indices.size and (indices.min() < 0 or indices.max() >= stored):
        raise CPMError(f"label subset file {path}: indices outside [0, {stored})")
    return indices
