"""Test-set scores of an evaluation run (scores.npy, labels.npy, logits.npy) and the 3-stream ensemble
(Table 1 '3S'): the weighted sum of several runs' scores."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cpm.errors import CPMError
from cpm.eval.records import RESULTS_FILE

SCORES_FILE, LABELS_FILE, LOGITS_FILE = "scores.npy", "labels.npy", "logits.npy"


def save_scores(out_dir, scores, labels, logits=None) -> None:
    """Test-set class scores (N, C) float32 and labels (N,) int64 as scores.npy / labels.npy, and the classifier
    outputs as logits.npy when the protocol has them (for ensembles)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / SCORES_FILE, np.asarray(scores, dtype=np.float32))
    np.save(out / LABELS_FILE, np.asarray(labels, dtype=np.int64))
    if logits is not None:
        np.save(out / LOGITS_FILE, np.asarray(logits, dtype=np.float32))


def load_scores(run_dir, fusion: str = "softmax") -> tuple[np.ndarray, np.ndarray, dict]:
    """(scores (N, C), labels (N,), results record or {}) of an evaluation output folder; `fusion` 'logits'
    reads the classifier outputs (logits.npy, written by linear_eval) instead of the softmax scores."""
    run = Path(run_dir)
    if fusion not in ("softmax", "logits"):
        raise CPMError(f"ensemble fusion: expected softmax|logits, got '{fusion}'")
    paths = [run / (LOGITS_FILE if fusion == "logits" else SCORES_FILE), run / LABELS_FILE]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise CPMError(f"ensemble member {run}: missing {', '.join(missing)} (expected the output folder of "
                       f"linear_eval{'' if fusion == 'logits' else ' / knn_eval / finetune / semi_supervised'})")
    try:
        scores, labels = np.load(paths[0]), np.load(paths[1])
    except (OSError, ValueError) as err:
        raise CPMError(f"ensemble member {run}: unreadable scores ({err})") from None
    if scores.ndim != 2 or labels.shape != (scores.shape[0],) or not np.isfinite(scores).all():
        raise CPMError(f"ensemble member {run}: expected finite scores (N, C) and labels (N,), got "
                       f"{scores.shape} and {labels.shape}")
    rec = json.loads((run / RESULTS_FILE).read_text()) if (run / RESULTS_FILE).is_file() else {}
    return scores, labels, rec


def ensemble_scores(members: list, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum (default: plain sum) of the members' scores (softmax or logits); members are
    (scores, labels, name) with identical labels, `weights` one number per member."""
    if len(members) < 2:
        raise CPMError(f"ensemble: need at least 2 score files, got {len(members)}")
    weights = [1.0] * len(members) if weights is None else list(weights)
    if len(weights) != len(members):
        raise CPMError(f"ensemble --weights: {len(weights)} weights given for {len(members)} members")
    ref_scores, ref_labels, ref_name = members[0]
    total = np.zeros(ref_scores.shape, dtype=np.float64)
    for (scores, labels, name), w in zip(members, weights):
        if scores.shape != ref_scores.shape or not np.array_equal(labels, ref_labels):
            raise CPMError(f"ensemble: {name} has scores {scores.shape} / other labels than {ref_name} "
                           f"{ref_scores.shape}; members must score the same test clips in the same order")
        total += w * scores
    return total, ref_labels
