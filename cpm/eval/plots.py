"""Figures: confusion matrix, t-SNE of embeddings (Fig. 6), mining precision per epoch (Fig. 3).

matplotlib's Agg backend is used so the plots work on headless machines; every function writes a PNG.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cpm.errors import CPMError  # noqa: E402
from cpm.runtime.metrics_file import METRICS_FILE, read_metrics  # noqa: E402

MINING_KEY = "mining_precision"  # epoch-record tag written by the trainer (cpm/train/steps.py MONITORED)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_confusion(cm, path, title: str = "Confusion matrix", class_names=None) -> Path:
    """Row-normalised confusion matrix (row = true class) as a heat map; counts annotated when C <= 20."""
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise CPMError(f"plot_confusion: expected a square (C, C) matrix, got shape {cm.shape}")
    c = cm.shape[0]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = min(max(4.0, 0.25 * c + 2), 20.0)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ticks = np.arange(c)
    names = class_names if class_names is not None else [str(i) for i in ticks]
    step = max(1, c // 30)  # keep tick labels readable for 60/120 classes
    ax.set_xticks(ticks[::step], [names[i] for i in ticks[::step]], rotation=90, fontsize=7)
    ax.set_yticks(ticks[::step], [names[i] for i in ticks[::step]], fontsize=7)
    if c <= 20:
        for i in range(c):
            for j in range(c):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return _save(fig, path)


def plot_tsne(panels, path, class_names=None) -> Path:
    """Side-by-side scatter plots; `panels` is a list of (title, xy (N, 2), labels (N,)). Same colour = same class."""
    if not panels:
        raise CPMError("plot_tsne: no panels to draw")
    classes = np.unique(np.concatenate([np.asarray(lab) for _, _, lab in panels]))
    colours = {c: plt.get_cmap("tab10" if classes.size <= 10 else "tab20")(i % 20) for i, c in enumerate(classes)}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for ax, (title, xy, lab) in zip(axes[0], panels):
        xy, lab = np.asarray(xy), np.asarray(lab)
        for c in classes:
            m = lab == c
            name = class_names[c] if class_names is not None else f"class {c}"
            ax.scatter(xy[m, 0], xy[m, 1], s=6, color=colours[c], label=name)
        ax.set(title=title, xticks=[], yticks=[])
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2, frameon=False)
    return _save(fig, path)


def mining_curve(run_dir) -> tuple[np.ndarray, np.ndarray]:
    """(epochs 1-based, mining precision in %) from the epoch records of a run's metrics.jsonl.

    The trainer logs the fraction of the top-K mined queue entries that share the sample's label; epochs
    without it (no labels, empty queue: null) are skipped.
    """
    path = Path(run_dir)
    path = path / METRICS_FILE if path.is_dir() else path
    if not path.is_file():
        raise CPMError(f"mining plot: {path} not found (expected the {METRICS_FILE} a pretraining run writes)")
    try:
        recs = read_metrics(path, kind="epoch")
    except ValueError as err:
        raise CPMError(f"mining plot: {path} is not valid JSON lines ({err})") from None
    pts = [(r["epoch"] + 1, r[MINING_KEY]) for r in recs if r.get(MINING_KEY) is not None]
    if not pts:
        raise CPMError(f"mining plot: {path} has no epoch records with '{MINING_KEY}' "
                       f"(the dataset must have labels for the monitor)")
    ep, val = np.asarray(pts, dtype=np.float64).T
    return ep.astype(np.int64), 100.0 * val  # logged as a fraction (cpm.models.cpm.mining_precision)


def plot_mining(curves, path, k=None, title: str = "Mining precision of the top-K positives") -> Path:
    """Overlay per-epoch mining precision curves; `curves` is a list of (label, epochs, precision %)."""
    if not curves:
        raise CPMError("plot_mining: no runs to draw")
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ep, val in curves:
        ax.plot(ep, val, marker="o" if len(ep) < 30 else None, ms=3, label=label)
    ax.set(xlabel="epoch", ylabel=f"precision of top-{k if k else 'K'} mined positives (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


# the training curves that tell learning from collapse or shortcut (issue 16): (metrics key, axis label, scale)
CURVES = (("knn_top1", "kNN top-1 (%)", 1.0), (MINING_KEY, "mining precision (%)", 100.0),
          ("self_mass", "target mass on own stale copies (%)", 100.0),
          ("feat_spread", "feature spread across clips (%)", 100.0))


def epoch_curve(run_dir, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs 1-based, values) of `key` in the epoch records of a run's metrics.jsonl; empty if never logged."""
    path = Path(run_dir)
    path = path / METRICS_FILE if path.is_dir() else path
    pts = [(r["epoch"] + 1, r[key]) for r in read_metrics(path, kind="epoch") if r.get(key) is not None]
    return tuple(np.asarray(v, dtype=np.float64) for v in zip(*pts)) if pts else (np.empty(0), np.empty(0))


def plot_training_curves(runs, path, labels=None) -> Path:
    """One panel per CURVES entry, one line per run folder (kNN, mining precision, self-copy mass, spread)."""
    if not runs:
        raise CPMError("plot_training_curves: no runs to draw")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (key, ylabel, scale) in zip(axes.flat, CURVES):
        for i, run in enumerate(runs):
            ep, val = epoch_curve(run, key)
            label = labels[i] if labels else Path(run).name
            if ep.size:
                line, = ax.plot(ep, scale * val, marker="o" if ep.size < 15 else None, ms=3, label=label)
                if key == "knn_top1":  # eval.encoder target / average: the student's curve, dashed, beside it
                    sep, sval = epoch_curve(run, "knn_student_top1")
                    if sep.size:
                        ax.plot(sep, scale * sval, ls="--", color=line.get_color(), label=f"{label} (student)")
        ax.set(xlabel="epoch", ylabel=ylabel)
        ax.grid(alpha=0.3)
    for ax in axes.flat:  # the first panel with lines carries the legend
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
            break
    return _save(fig, path)


def plot_sweep(lines, path, xlabel: str, ylabel: str = "linear top-1 (%)", title: str = "") -> Path:
    """Accuracy against a hyper-parameter (Figs. 4, 5); `lines` is a list of (label, xs, ys), one per benchmark."""
    if not lines:
        raise CPMError("plot_sweep: nothing to draw")
    fig, ax = plt.subplots(figsize=(6, 4))
    xs_all = sorted({float(x) for _, xs, _ in lines for x in xs})
    for label, xs, ys in lines:
        order = np.argsort(xs)
        ax.plot(np.asarray(xs, dtype=float)[order], np.asarray(ys, dtype=float)[order], marker="o", label=label)
    if xs_all and xs_all[0] > 0 and xs_all[-1] / xs_all[0] >= 20:  # K = 25 ... 1000: log axis, values as ticks
        ax.set_xscale("log")
    ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
    ax.minorticks_off()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)
