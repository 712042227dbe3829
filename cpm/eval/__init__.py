"""Evaluation protocols of the paper (Sec. 4): linear probe, kNN, semi-supervised and full fine-tuning,
3-stream ensemble, t-SNE and mining-precision figures, results.json and the results tables.

Modules: features (frozen-encoder loading and checks; feature extraction is cpm.runtime.features), linear, knn,
protocols (kNN and all probes in one call), finetune, tsne, metrics, plots (matplotlib, Agg), records
(results.json), scores (scores.npy, ensembling), tables (paper numbers, results tables, sweeps). The command-line
entry points that run them are in cpm/cli/.
"""
