"""Tiny data, configs and checkpoints for the evaluation tests (st-gcn arrays format, random-weight CPM).

Class c lifts the body by 0.5 c and waves it with frequency c + 1: learnable from a few clips.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml

T, V, M = 16, 25, 2
NUM_CLASSES = 4


def write_arrays(root: Path, n_train: int = 24, n_test: int = 12, seed: int = 0) -> Path:
    """`train_data.npy` / `val_data.npy` (N, 3, T, 25, 2) and labels, classes balanced."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_test)):
        labels = np.arange(n) % NUM_CLASSES
        t = np.arange(T) / T
        x = 0.05 * rng.standard_normal((n, 3, T, V, M)).astype(np.float32)
        x[..., 0] += np.linspace(-0.5, 0.5, V)[None, None, None, :]  # a non-degenerate body
        wave = 0.5 * labels[:, None] + np.sin(2 * np.pi * (labels[:, None] + 1) * t[None, :])  # (n, T)
        x[:, 1, :, :, 0] += wave[:, :, None] * np.linspace(0.2, 1.0, V)  # every joint, most at the end
        x[:, :, :, :, 1] = 0  # one person, second slot empty (as NTU single-person clips)
        np.save(root / f"{split}_data.npy", x.astype(np.float32))
        np.save(root / f"{split}_label.npy", labels.astype(np.int64))
    return root


def tiny_config_dict(root: Path, stream: str = "joint", **eval_overrides) -> dict:
    ev = {"linear_epochs": 3, "linear_milestones": [2], "finetune_epochs": 2, "finetune_milestones": [1],
          "batch_size": 8, "knn_k": 5}
    ev.update(eval_overrides)
    return {
        "name": "tiny",
        "data": {"format": "arrays", "root": str(root), "train_split": "train", "test_split": "val",
                 "num_frames": T, "max_persons": M, "num_workers": 0, "stream": stream},
        "model": {"hidden_channels": 4, "hidden_dim": 16, "proj_hidden": 16, "proj_dim": 8, "pred_hidden": 16},
        "loss": {"queue_size": 32, "topk": 4, "pe_start_epoch": 1},
        "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
        "schedule": {"warmup_epochs": 1},
        "eval": ev,
        "logging": {"tensorboard": False, "progress": False},
    }


def write_config(path: Path, d: dict) -> Path:
    path.write_text(yaml.safe_dump(d))
    return path


def write_checkpoint(path: Path, cfg_dict: dict, seed: int = 1) -> Path:
    """A random-weight CPM checkpoint shaped like the trainer's (model + config).

    Its BatchNorm statistics are calibrated on the training clips (as pretraining would leave them), so
    features vary across clips and a change of the statistics is visible.
    """
    from cpm.config import config_from_dict
    from cpm.data import build_dataset
    from cpm.data import to_stream
    from cpm.models import build_model

    cfg = config_from_dict(cfg_dict)
    torch.manual_seed(seed)
    model = build_model(cfg)
    ds = build_dataset(cfg.data, "train")
    x = to_stream(torch.stack([ds[i][0] for i in range(len(ds))]), cfg.data.stream, ds.layout)
    bns = [m for m in model.encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration pass
    with torch.no_grad():
        model.encoder.train()(x)
    for bn in bns:
        bn.momentum = 0.1
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "epoch": 2, "step": 6,
                "version": "test"}, path)
    return path


def tiny_setup(tmp_path: Path, stream: str = "joint", **eval_overrides):
    """(config yaml path, checkpoint path, config dict) of a tiny run in tmp_path."""
    root = write_arrays(tmp_path / "data")
    d = tiny_config_dict(root, stream, **eval_overrides)
    cfg_path = write_config(tmp_path / f"tiny_{stream}.yaml", d)
    ckpt = write_checkpoint(tmp_path / f"run_{stream}" / "last.pt", d)
    return cfg_path, ckpt, d
