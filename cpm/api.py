"""Loading pretrained encoders and embedding skeleton sequences (the notebook API)."""
from __future__ import annotations

from pathlib import Path

import torch

from cpm.config import config_from_dict
from cpm.errors import CPMError
from cpm.models import build_encoder
from cpm.models.stgcn import STGCN

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP and torch.compile wrappers


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a cpm checkpoint with `weights_only=True`; one-line CPMError for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise CPMError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, pickle of objects, not a torch file ...
        raise CPMError(f"checkpoint {path} could not be read ({type(err).__name__}: "
                       f"{str(err).splitlines()[0][:120]}); expected a cpm checkpoint written by scripts/pretrain.py") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CPMError(f"checkpoint {path}: expected a dict with 'model' and 'config', found {keys}")
    return ckpt


def _strip(key: str) -> str:
    for prefix in _WRAPPER_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def encoder_state(model_state: dict, prefix: str = "encoder.") -> dict:
    """The encoder's entries of a CPM state_dict, wrapper prefixes removed."""
    state = {_strip(k): v for k, v in model_state.items()}
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_state_strict(module: torch.nn.Module, state: dict, source) -> None:
    """`load_state_dict(strict=True)` with a one-line CPMError listing missing/unexpected/mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise CPMError(f"{source}: incompatible weights: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                       f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
                       f"shape mismatch {shapes[:5]}")
    module.load_state_dict(state)


def load_encoder(path, map_location="cpu") -> STGCN:
    """The pretrained ST-GCN encoder of a cpm checkpoint, rebuilt from its stored config, in eval mode."""
    ckpt = load_checkpoint(path, map_location)
    cfg = config_from_dict(ckpt["config"])
    encoder = build_encoder(cfg)
    load_state_strict(encoder, encoder_state(ckpt["model"]), f"checkpoint {path}")
    return encoder.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


@torch.no_grad()
def embed(encoder: torch.nn.Module, x, batch_size: int = 256) -> torch.Tensor:
    """Features (N, hidden_dim) of skeleton clips x (N, C, T, V, M) (tensor or array), in batches, on the
    encoder's device; returns a CPU float tensor. The encoder's train/eval mode is left as it was."""
    x = torch.as_tensor(x, dtype=torch.float32)
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        out = [encoder(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(out) if out else torch.empty(0, getattr(encoder, "hidden_dim", 0))

