"""Checkpoints as plain data: atomic writes, ``weights_only`` loads, RNG capture/restore, wrapper prefixes,
clear errors.

A checkpoint is a dict with ``model`` (CPM state_dict, unwrapped from DDP, including the queue buffers),
``optimizer``, ``scheduler``, ``scaler``, ``epoch`` (epochs completed), ``step`` (global iterations
completed), ``rng``, ``config`` (``Config.to_dict()``) and ``version``. Only tensors, numbers, strings,
lists, tuples and dicts are stored, so ``torch.load(weights_only=True)`` can read it.
"""
from __future__ import annotations

import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from cpm.errors import CPMError

REQUIRED_KEYS = ("model", "epoch", "step", "config")
_TEMP_RE = re.compile(r"\..+\.pt\.[A-Za-z0-9_]{8}\.tmp")  # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")


def capture_rng() -> dict:
    """RNG states of python, numpy, torch CPU and (if available) every CUDA device, as plain data."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng`; CUDA states are restored only when the device count matches."""
    py = state["python"]  # .cpu(): a checkpoint loaded with map_location=cuda holds these on the GPU
    random.setstate((py["version"], tuple(int(v) for v in py["state"].cpu().tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state((npst["name"], npst["keys"].cpu().numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically: temp file in the same directory, fsync, ``os.replace``.

    A crash mid-write leaves the previous file at ``path`` untouched (and at most a ``.tmp`` file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:  # e.g. a full disk: name the file being written
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    try:  # persist the rename itself (POSIX); not supported everywhere, harmless to skip
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete the temporary files that a killed :func:`save_checkpoint` left in ``folder`` (only names of its
    own pattern, ``.<name>.pt.<8 random chars>.tmp``); returns how many."""
    removed = 0
    for p in Path(folder).glob(".*.pt.*.tmp"):
        if _TEMP_RE.fullmatch(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    required: tuple = REQUIRED_KEYS) -> dict:
    """Load a checkpoint with ``weights_only=True``; any unreadable file or a missing `required` entry ->
    one-line :class:`CPMError`."""
    path = Path(path)
    if not path.is_file():
        raise CPMError(f"checkpoint {path}: file not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, not a torch file, pickled objects, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CPMError(f"checkpoint {path}: cannot be read ({type(e).__name__}: {first[:200]}); "
                       f"the file is truncated, corrupt or not a cpm checkpoint") from None
    if not isinstance(state, dict):
        raise CPMError(f"checkpoint {path}: expected a dict, found {type(state).__name__}")
    missing = [k for k in required if k not in state]
    if missing:
        raise CPMError(f"checkpoint {path}: missing entries {missing}; found {sorted(state)}")
    return state


def _short(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise a one-line :class:`CPMError` listing missing/unexpected keys and shape mismatches."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch (checkpoint vs model): {_short(shapes, 3)}")
        raise CPMError(f"checkpoint {source}: does not match the model (another architecture or config?); "
                       + "; ".join(parts))


def check_finite_state(state: Mapping[str, torch.Tensor], source: str) -> None:
    """One-line :class:`CPMError` when weights or buffers hold NaN/inf: such a checkpoint is reported as what it
    is, not later as a changed frozen encoder or a fine-tuning that diverged."""
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CPMError(f"checkpoint {source}: NaN/inf weights in {len(bad)} of {len(state)} tensors (e.g. "
                       f"{_short(bad, 3)}); the run that wrote it diverged, use an earlier checkpoint (epoch_*.pt)")


def load_model_state(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strictly load ``state`` into ``model`` after :func:`check_state_dict` and :func:`check_finite_state`
    (one-line error otherwise)."""
    check_state_dict(model, state, source)
    check_finite_state(state, source)
    model.load_state_dict(state, strict=True)


# DDP and torch.compile wrap a module in an attribute of these names; their state_dict keys carry "<name>."
WRAPPERS = ("module", "_orig_mod")


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / torch.compile wrappers (their state_dicts carry prefixes)."""
    while True:
        inner = next((getattr(model, name) for name in WRAPPERS
                      if isinstance(getattr(model, name, None), nn.Module)), None)
        if inner is None:
            return model
        model = inner


def unwrap_state(state: Mapping[str, Any]) -> dict:
    """A state_dict with the DDP / torch.compile prefixes removed from every key (what `unwrap` would give)."""
    out = {}
    for key, value in state.items():
        stripped = True
        while stripped:
            stripped = False
            for name in WRAPPERS:
                if key.startswith(name + "."):
                    key, stripped = key[len(name) + 1:], True
        out[key] = value
    return out


# the CPM model's attribute holding each branch's encoder (eval.encoder); its state_dict keys start "<name>."
BRANCH_MODULE = {"student": "encoder", "target": "target_encoder", "average": "average_encoder"}


def branch_state(model_state: Mapping[str, Any], branch: str, source) -> dict:
    """The entries of one branch's encoder ('student' or the EMA 'target') of a CPM state_dict, wrapper prefixes
    removed; a one-line CPMError naming `source` for an unknown branch or a checkpoint without that encoder."""
    if branch not in BRANCH_MODULE:
        raise CPMError(f"{source}: encoder branch: expected {'|'.join(BRANCH_MODULE)}, got '{branch}'")
    prefix = BRANCH_MODULE[branch] + "."
    state = {k[len(prefix):]: v for k, v in unwrap_state(model_state).items() if k.startswith(prefix)}
    if not state:
        needs = "model.average_last" if branch == "average" else "model.target_momentum"
        raise CPMError(f"{source}: has no {branch} encoder (it exists only where the run had {needs} > 0): "
                       f"use 'student'")
    return state
