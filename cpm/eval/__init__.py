"""Evaluation protocols of the paper (Sec. 4): linear probe, kNN, semi-supervised and full fine-tuning,
3-stream ensemble, t-SNE and mining-precision figures, results.json and the results tables.

Modules: features (frozen-encoder loading; feature extraction itself is cpm.runtime.features), linear, knn, finetune, metrics,
plots (matplotlib, Agg), results (results.json, paper numbers, tables), cli / cli_tools (script entry points).
The names below are imported on first use, so `import cpm.eval.knn` (used by the trainer) stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "load_eval_encoder": "features",
    "linear_eval": "linear", "train_linear": "linear", "verify_frozen": "linear",
    "finetune": "finetune", "labelled_subset": "finetune",
    "knn_scores": "knn", "knn_accuracy": "knn",
    "classification_report": "metrics",
    "make_record": "results", "write_results": "results", "results_table": "results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"cpm.eval.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'cpm.eval' has no attribute '{name}'")
