"""Frozen encoders for evaluation: load one from a checkpoint (or at random init), check it fits the data.

The checkpoint's stored config decides the architecture and the input stream the encoder was trained on;
the evaluation config decides the dataset. Features come from `cpm.runtime.features`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cpm.config import Config, config_from_dict
from cpm.errors import CPMError
from cpm.graph import layout_of
from cpm.models import build_encoder
from cpm.runtime.checkpoint import branch_state, load_checkpoint, load_model_state


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


def load_eval_encoder(cfg: Config, checkpoint=None, random_init: bool = False, seed: int = 0,
                      contents: dict | None = None) -> EvalEncoder:
    """The encoder of `checkpoint` (weights loaded strictly), or the same architecture at random init.

    Without a checkpoint, `random_init` must be set and the architecture comes from `cfg`. The random
    init is seeded (`seed`) so a random-init baseline is reproducible. `contents`: the checkpoint as the caller
    has read it already (the file is then not read again).
    """
    if checkpoint is None and not random_init:
        raise CPMError("no --checkpoint given: pass a pretraining checkpoint (e.g. runs/<name>/last.pt) "
                       "or --random-init / --from-scratch")
    state = None
    model_cfg = cfg
    if checkpoint is not None:
        ckpt = contents if contents is not None else load_checkpoint(checkpoint, required=("model", "config"))
        model_cfg = config_from_dict(ckpt["config"])
        state = branch_state(ckpt["model"], cfg.eval.encoder, checkpoint)
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
    v_model, v_data = layout_of(model_cfg.data).num_joints, layout_of(cfg.data).num_joints
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
