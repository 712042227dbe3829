"""Command-line entry points (the top layer): each parses arguments, calls a library function and prints.

pretrain (cpm-pretrain), evaluate (linear, kNN, semi-supervised, fine-tuning), tools (ensemble, t-SNE, mining plot,
results table, sweep plot); common: the `--set` / `--debug` flags and the one error boundary every CLI shares.
"""
