"""Loaders and frozen-encoder features: the one place a batch goes device -> stream -> encoder -> features.

Features are computed in eval mode (BatchNorm statistics frozen, dropout off; the encoder's mode is restored),
without gradients, in the encoder's input stream (joint batches -> `to_stream`).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from cpm.data import to_stream
from cpm.errors import CPMError
from cpm.runtime.device import FP32, Precision, autocast


def make_loader(dataset, batch_size: int, num_workers: int, device: torch.device, sampler=None,
                shuffle: bool = False, drop_last: bool = False, generator=None,
                persistent: bool = False) -> DataLoader:
    """A DataLoader with pinned memory on CUDA (workers only when asked). Pass a `generator` where the global
    RNG must stay untouched: with workers, torch draws their base seed from it (else from the global RNG).
    `persistent` keeps the workers between passes (no start-up per epoch); their random state then runs on
    from pass to pass, so use it only where workers draw no random numbers."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers, pin_memory=device.type == "cuda", generator=generator,
                      persistent_workers=persistent and num_workers > 0)


def dataset_layout(dataset):
    """The skeleton layout of a dataset or of a `torch.utils.data.Subset` of one."""
    while not hasattr(dataset, "layout") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset.layout


@torch.no_grad()
def encode_batch(encoder: nn.Module, x: torch.Tensor, stream: str, layout, device: torch.device,
                 precision: Precision = FP32) -> torch.Tensor:
    """Features (B, D) float32 of one joint batch: to the device, to the stream, through the encoder."""
    x = to_stream(x.to(device, non_blocking=True), stream, layout)
    with autocast(device, precision):
        return encoder(x).float()


@torch.no_grad()
def encode_loader(encoder: nn.Module, loader, stream: str, layout, device: torch.device,
                  precision: Precision = FP32, desc: str = "features",
                  progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) and int64 labels (N,), both on `device`, of every batch of a non-augmented loader."""
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False, dynamic_ncols=True):
            feats.append(encode_batch(encoder, x, stream, layout, device, precision))
            labels.append(torch.as_tensor(y, dtype=torch.int64))
    finally:
        encoder.train(was_training)
    if not feats:
        raise CPMError(f"extract_features: the {desc} dataset is empty")
    return torch.cat(feats), torch.cat(labels).to(device)


def extract_features(encoder: nn.Module, dataset, stream: str, device: torch.device, batch_size: int = 256,
                     num_workers: int = 0, desc: str = "features",
                     progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float32 and labels (N,) int64 of a whole dataset split (fp32), both on `device`; the
    encoder is moved to `device`."""
    encoder.to(device)
    loader = make_loader(dataset, batch_size, num_workers, device)
    return encode_loader(encoder, loader, stream, dataset_layout(dataset), device, desc=desc, progress=progress)
