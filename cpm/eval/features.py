"""Frozen encoders for evaluation: load one from a checkpoint (or at random init), extract features once.

The checkpoint's stored config decides the architecture and the input stream the encoder was trained on;
the evaluation config decides the dataset. Features are computed in eval mode (BatchNorm statistics frozen,
dropout off), without gradients, on the device, in the encoder's stream (joint batches -> `to_stream`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from cpm.api import encoder_state, load_checkpoint
from cpm.train.checkpoint import load_model_state
from cpm.config import Config, config_from_dict
from cpm.data import to_stream
from cpm.errors import CPMError
from cpm.models import build_encoder


@dataclass
class EvalEncoder:
    """An encoder ready for evaluation plus what produced it."""
    encoder: nn.Module
    model_cfg: Config  # config that built the encoder (the checkpoint's, or the evaluation config's)
    stream: str  # input stream the encoder expects
    reference: dict  # encoder state to compare against after a frozen run (checkpoint or initial weights)
    source: str  # checkpoint path, or "random init"


def snapshot_state(module: nn.Module) -> dict:
    """Detached CPU copies of every parameter and buffer (BN running stats included)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def load_eval_encoder(cfg: Config, checkpoint=None, random_init: bool = False, seed: int = 0) -> EvalEncoder:
    """The encoder of `checkpoint` (weights loaded strictly), or the same architecture at random init.

    Without a checkpoint, `random_init` must be set and the architecture comes from `cfg`. The random
    init is seeded (`seed`) so a random-init baseline is reproducible.
    """
    if checkpoint is None and not random_init:
        raise CPMError("no --checkpoint given: pass a pretraining checkpoint (e.g. runs/<name>/last.pt) "
                       "or --random-init / --from-scratch")
    state = None
    model_cfg = cfg
    if checkpoint is not None:
        ckpt = load_checkpoint(checkpoint)
        model_cfg = config_from_dict(ckpt["config"])
        state = encoder_state(ckpt["model"])
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG stream
        torch.manual_seed(seed)
        encoder = build_encoder(model_cfg)
    if state is not None and not random_init:
        load_model_state(encoder, state, str(checkpoint))
    check_compatible(model_cfg, cfg, checkpoint or "random init")
    stream = model_cfg.data.stream
    if stream != cfg.data.stream:
        print(f"note: the encoder was pretrained on the '{stream}' stream; evaluating on '{stream}' "
              f"(data.stream='{cfg.data.stream}' of the evaluation config is ignored)")
    source = "random init" if random_init else str(checkpoint)
    # a frozen run is checked against the checkpoint's own tensors (or the initial weights at random init)
    reference = snapshot_state(encoder) if state is None or random_init else {k: v.detach().cpu().clone()
                                                                               for k, v in state.items()}
    return EvalEncoder(encoder.eval(), model_cfg, stream, reference, source)


def check_compatible(model_cfg: Config, cfg: Config, source) -> None:
    """One-line error if the evaluation data cannot feed the encoder (joint count, persons, channels)."""
    from cpm.models import layout_of

    v_model, v_data = layout_of(model_cfg).num_joints, layout_of(cfg).num_joints
    if v_model != v_data:
        raise CPMError(f"{source}: the encoder was built for {v_model} joints (data.layout='{model_cfg.data.layout}') "
                       f"but the evaluation data has {v_data} (data.layout='{cfg.data.layout}')")
    if model_cfg.model.in_channels != len(cfg.data.channels):
        raise CPMError(f"{source}: the encoder takes {model_cfg.model.in_channels} channels per joint "
                       f"(data.channels='{model_cfg.data.channels}') but the evaluation data has "
                       f"data.channels='{cfg.data.channels}'")
    if model_cfg.model.data_bn == "mvc" and model_cfg.data.max_persons != cfg.data.max_persons:
        raise CPMError(f"{source}: the encoder expects data.max_persons={model_cfg.data.max_persons} "
                       f"(model.data_bn='mvc'), the evaluation config has {cfg.data.max_persons}")


def make_loader(dataset, batch_size: int, num_workers: int, device: torch.device, sampler=None,
                shuffle: bool = False, drop_last: bool = False, generator=None) -> DataLoader:
    """A DataLoader with pinned memory on CUDA (workers only when asked)."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers, pin_memory=device.type == "cuda", generator=generator,
                      persistent_workers=False)


@torch.no_grad()
def encode_batch(encoder: nn.Module, x: torch.Tensor, stream: str, layout, device: torch.device) -> torch.Tensor:
    """Features (B, D) of one joint batch: to the device, to the stream, through the encoder (fp32)."""
    x = to_stream(x.to(device, non_blocking=True), stream, layout)
    return encoder(x).float()


@torch.no_grad()
def extract_features(encoder: nn.Module, dataset, stream: str, device: torch.device, batch_size: int = 256,
                     num_workers: int = 0, desc: str = "features",
                     progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float32 and labels (N,) int64 of a whole dataset split, both on `device`.

    The encoder is put in eval mode for the pass (its previous mode is restored) and moved to `device`.
    """
    encoder.to(device)
    was_training = encoder.training
    encoder.eval()
    loader = make_loader(dataset, batch_size, num_workers, device)
    layout = dataset_layout(dataset)
    feats, labels = [], []
    try:
        for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False, dynamic_ncols=True):
            feats.append(encode_batch(encoder, x, stream, layout, device))
            labels.append(torch.as_tensor(y, dtype=torch.int64))
    finally:
        encoder.train(was_training)
    if not feats:
        raise CPMError(f"extract_features: the {desc} dataset is empty")
    return torch.cat(feats), torch.cat(labels).to(device)


def dataset_layout(dataset):
    """The skeleton layout of a dataset or of a `torch.utils.data.Subset` of one."""
    while not hasattr(dataset, "layout") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset.layout


def num_classes_of(train_set, test_set) -> int:
    """Class count from the data (the larger `num_classes` of the two splits); a test label that never occurs
    in training is an error, since no classifier trained on that split could predict it."""
    unseen = np.setdiff1d(np.asarray(test_set.labels), np.asarray(train_set.labels))
    if unseen.size:
        clips = int(np.isin(np.asarray(test_set.labels), unseen).sum())
        shown = ", ".join(str(int(c)) for c in unseen[:8]) + (" ..." if unseen.size > 8 else "")
        raise CPMError(f"test split: label(s) {shown} ({clips} clips) never occur in the training split, so no "
                       f"classifier could predict them; check data.train_split / data.test_split")
    return max(int(train_set.num_classes), int(test_set.num_classes))
