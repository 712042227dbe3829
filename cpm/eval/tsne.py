"""The t-SNE protocol (Fig. 6): test embeddings of a few classes from one or more checkpoints, laid out in 2-D,
with the cosine silhouette of each encoder's features (how well they separate the classes drawn)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from cpm.errors import CPMError
from cpm.eval.features import load_eval_encoder
from cpm.eval.records import VARIANT_TITLES, variant_of
from cpm.runtime.features import extract_features

def pick_classes(labels, num: int = 10, seed: int = 0) -> np.ndarray:
    """`num` distinct classes present in `labels` (all of them if fewer), drawn with `seed`, sorted."""
    present = np.unique(np.asarray(labels))
    if present.size <= num:
        return present
    return np.sort(np.random.default_rng(seed).choice(present, size=num, replace=False))


def sample_indices(labels, classes, max_per_class: int = 200, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `max_per_class` samples of each of `classes`."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        out.append(idx if idx.size <= max_per_class else rng.choice(idx, size=max_per_class, replace=False))
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def tsne_2d(feats, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (sklearn, cosine-normalised features, PCA init) of (N, D) features."""
    from sklearn.manifold import TSNE

    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise CPMError(f"t-SNE: expected features (N >= 3, D), got shape {x.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    perplexity = min(perplexity, (x.shape[0] - 1) / 3)  # sklearn requires perplexity < N
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def check_tsne_args(checkpoints: list, titles: list | None, classes: int, max_per_class: int) -> None:
    """One-line errors for t-SNE arguments that cannot work (checked before any data is read)."""
    if not checkpoints:
        raise CPMError("t-SNE needs --checkpoint (and optionally --compare CHECKPOINT ...)")
    if titles is not None and len(titles) != len(checkpoints):
        raise CPMError(f"--title: {len(titles)} titles given for {len(checkpoints)} checkpoints")
    if classes < 2 or max_per_class < 1:
        raise CPMError(f"--classes must be >= 2 and --max-per-class >= 1, got {classes}, {max_per_class}")


def tsne_panels(cfg, test_set, checkpoints: list, titles: list | None = None, classes: int = 10,
                max_per_class: int = 200, perplexity: float = 30.0, seed: int = 0,
                device: torch.device = torch.device("cpu"), progress: bool = True) -> dict:
    """t-SNE of the same test clips (`classes` classes drawn with `seed`, at most `max_per_class` each) for every
    checkpoint: {"panels": [(title, xy (N, 2), labels)], "metrics": {title: {checkpoint, variant,
    silhouette_cosine}}, "classes": drawn classes, "num_points": N}."""
    check_tsne_args(checkpoints, titles, classes, max_per_class)
    from sklearn.metrics import silhouette_score

    drawn = pick_classes(test_set.labels, classes, seed)
    idx = sample_indices(test_set.labels, drawn, max_per_class, seed)
    subset = Subset(test_set, idx.tolist())
    panels, metrics = [], {}
    for i, ckpt in enumerate(checkpoints):
        ev = load_eval_encoder(cfg, ckpt, seed=seed)
        feats, labels = extract_features(ev.encoder, subset, ev.stream, device, cfg.eval.batch_size,
                                         cfg.data.num_workers, progress=progress)
        feats, labels = feats.cpu().numpy(), labels.cpu().numpy()
        variant = variant_of(ev.model_cfg)
        title = titles[i] if titles else VARIANT_TITLES[variant]
        if title in metrics:  # two checkpoints of the same kind: tell them apart by their run folder
            title = f"{title} [{Path(ckpt).resolve().parent.name}]"
        sil = float(silhouette_score(feats, labels, metric="cosine")) if len(set(labels)) > 1 else None
        panels.append((title if sil is None else f"{title} (silhouette {sil:.3f})", tsne_2d(feats, seed, perplexity),
                       labels))
        metrics[title] = {"checkpoint": str(ckpt), "variant": variant, "silhouette_cosine": sil}
    return {"panels": panels, "metrics": metrics, "classes": drawn, "num_points": int(len(idx))}
