"""Section "ceiling" (issue 14): how far ahead of the reference `pretrain.py` could get at all.

Both pipelines spend most of a CPU step in the same ST-GCN convolutions. Per trainer batch B, one view of B clips
goes forward and backward through: our encoder with the config's dropout, ours without dropout, and the reference
script's own encoder (its `STGCN` class, imported from the script when it has one), in alternating rounds.
The encoder ratios (reference's time / ours, with and without our dropout) compare like with like in one process.
The ceiling is the reference's whole step (section "trainer", same run, its own process) over two of our
dropout-free encoder passes: the ratio `pretrain.py` would reach if the heads, the loss over the queue, the
optimizer, the augmentation and the paper's dropout masks all cost nothing. It mixes two processes' timings, so it
moves with the machine's load more than the encoder ratios do.
"""
from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import torch
from torch import nn

from cpm.bench.compute import fwd_bwd_seconds
from cpm.bench.timing import median
from cpm.models import build_encoder


def reference_encoder(script: Path | None, example: torch.Tensor) -> nn.Module | None:
    """`STGCN()` of the reference script (its module code runs, not its main) in train mode, or None when it has
    none or it cannot take `example` clips (another joint count, say)."""
    if script is None:
        return None
    spec = importlib.util.spec_from_file_location("cpm_bench_reference", script)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        encoder = module.STGCN().train()
        encoder(example[:2])
        return encoder
    except Exception:  # the section then reports ours alone: a measuring aid, not worth stopping the run
        return None


def encoder_ceiling(cfg, opts, trainer: dict | None = None) -> dict:
    """Per batch of the trainer section: fwd+bwd seconds of one view (median over `opts.rounds` alternating
    rounds), the dropout masks' share of ours, and the ceiling of pretrain.py / reference."""
    device = opts.device
    torch.manual_seed(0)
    ours = build_encoder(cfg).to(device).train()
    plain = copy.deepcopy(ours)
    for m in plain.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    d = cfg.data
    shape = (cfg.model.in_channels, d.num_frames, ours.num_joints, d.max_persons)
    ref = reference_encoder(opts.reference, torch.randn(2, *shape)) if device.type == "cpu" else None
    encoders = {"ours": ours, "ours_no_dropout": plain, **({"reference": ref} if ref is not None else {})}
    out = {"dropout": cfg.model.dropout, "reference_encoder": ref is not None, "batches": {}}
    for batch in opts.trainer_batches or (opts.batch,):
        x = torch.randn(batch, *shape, device=device)
        times = {name: [] for name in encoders}
        for r in range(opts.rounds):
            order = list(encoders.items()) if r % 2 == 0 else list(reversed(encoders.items()))
            for name, enc in order:
                times[name].append(fwd_bwd_seconds(enc, x, device, reps=2 if opts.quick else 3))
        row = {f"{name}_s": median(v) for name, v in times.items()}
        row["dropout_share"] = 1 - row["ours_no_dropout_s"] / row["ours_s"]
        if "reference_s" in row:  # speed of our encoder relative to the reference's, same process, same clips
            row["encoder_ratio"] = row["reference_s"] / row["ours_s"]
            row["encoder_ratio_no_dropout"] = row["reference_s"] / row["ours_no_dropout_s"]
        ref_rate = ((trainer or {}).get("batches", {}).get(str(batch)) or {}).get("reference_samples_per_s")
        if ref_rate:
            row["reference_step_s"] = batch / ref_rate
            row["ceiling"] = row["reference_step_s"] / (2 * row["ours_no_dropout_s"])
        out["batches"][str(batch)] = row
    return out
