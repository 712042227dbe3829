"""What a run owns on disk and how it is saved and restored: out-dir policy, resume, checkpoint content."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from torch import nn

from cpm.errors import CPMError
from cpm.version import __version__
from cpm.runtime import checkpoint as ck
from cpm.runtime.metrics_file import METRICS_FILE
from cpm.train import distributed as dist

LAST = "last.pt"


def epoch_name(epoch: int) -> str:
    """File name of the kept checkpoint after ``epoch`` completed epochs."""
    return f"epoch_{epoch:04d}.pt"


def existing_checkpoints(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.glob("*.pt") if p.name == LAST or p.name.startswith("epoch_"))


def run_files(out_dir: Path) -> list[Path]:
    """What a run keeps in ``out_dir`` that starting another run there would delete: checkpoints, metrics."""
    if not out_dir.is_dir():
        return []
    metrics = out_dir / METRICS_FILE
    return existing_checkpoints(out_dir) + ([metrics] if metrics.is_file() else [])


def replaces_other_run(out_dir: Path, resume_path: Path | None) -> bool:
    """True when this run would write over another run's files in ``out_dir`` (a fresh start, or a resume
    from a checkpoint kept elsewhere); :func:`resolve_resume` allows it only with ``force``."""
    if not run_files(out_dir):
        return False
    return resume_path is None or resume_path.resolve().parent != out_dir.resolve()


def _names(found: list[Path]) -> str:
    return ", ".join(p.name for p in found[:3]) + (" ..." if len(found) > 3 else "")


def resolve_resume(out_dir: str | Path, resume: str | None, force: bool) -> Path | None:
    """Apply the out-dir policy (nothing is changed on disk) and return the checkpoint to resume from.

    ``resume="auto"`` continues from ``<out>/last.pt`` when it exists, else starts fresh; any other value is
    a checkpoint path that must exist. Starting fresh in a folder that holds another run's checkpoints or
    metrics, or resuming a checkpoint from elsewhere into it, is refused unless ``force`` (then
    :func:`clear_run` removes that run once this one is set up).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CPMError(f"--out {out}: exists and is not a directory")
    path = None
    if resume == "auto":
        path = out / LAST if (out / LAST).is_file() else None
    elif resume:
        path = Path(resume)
        if not path.is_file():
            raise CPMError(f"--resume {path}: checkpoint not found (use --resume auto to continue the run in --out)")
    if force or not replaces_other_run(out, path):
        return path
    found = run_files(out)
    if resume == "auto":
        kept = [p for p in found if p.name.startswith("epoch_")]
        hint = f"resume a kept checkpoint with --resume {kept[-1]}, " if kept else ""
        raise CPMError(f"--resume auto: {out} has no {LAST} but holds {_names(found)} of an earlier run; {hint}"
                       f"pass --force to delete them and start over, or choose another --out")
    if path is not None:
        raise CPMError(f"--out {out}: holds another run ({_names(found)}); resuming {path} there would overwrite "
                       f"it; choose another --out or pass --force to replace that run")
    raise CPMError(f"--out {out}: already holds checkpoints or metrics of another run ({_names(found)}); "
                   f"pass --resume auto to "
                   f"continue it, --force to overwrite it, or choose another --out")


def clear_run(out_dir: Path) -> None:
    """Remove another run's checkpoints, metrics and TensorBoard events (``--force``)."""
    if not out_dir.is_dir():
        return
    for p in existing_checkpoints(out_dir):
        p.unlink()
    (out_dir / METRICS_FILE).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "tb", ignore_errors=True)


def write_config(cfg, out_dir: Path) -> Path:
    """The resolved config next to the run, as YAML that ``load_config`` reads back."""
    path = out_dir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Progress:
    """Counters that checkpoints carry: ``epoch`` = epochs completed, ``step`` = iterations completed."""
    epoch: int = 0
    step: int = 0


def gather_rng() -> list[dict]:
    """The RNG states of every rank (rank order); a one-element list without a process group."""
    mine = ck.capture_rng()
    if not dist.is_dist():
        return [mine]
    out = [None] * dist.get_world_size()
    torch.distributed.all_gather_object(out, mine)
    return out


def _make_state(model: nn.Module, optimizer, scaler, sched: dict, progress: Progress, cfg, rng: list[dict]) -> dict:
    """The checkpoint dict (plain data only; see cpm/runtime/checkpoint.py)."""
    return {
        "model": ck.unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": sched,
        "scaler": scaler.state_dict(),
        "epoch": progress.epoch,
        "step": progress.step,
        "rng": rng[0],
        "rng_per_rank": rng,
        "config": cfg.to_dict(),
        "version": __version__,
    }


def restore_run(path: Path, model: nn.Module, optimizer, scaler, device: torch.device, cfg=None) -> Progress:
    """Load ``path`` into model/optimizer/scaler and this rank's RNG; return where the run stands.

    The run continues with ``cfg`` (e.g. more epochs); keys that differ from the stored config are printed.
    """
    state = ck.load_checkpoint(path, map_location=device)
    changes = config_changes(state["config"], cfg.to_dict()) if cfg is not None else []
    if changes and dist.is_main():
        print(f"note: resuming {path} with a changed config: {'; '.join(changes)}")
    ck.load_model_state(ck.unwrap(model), state["model"], str(path))
    try:
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise CPMError(f"checkpoint {path}: optimizer/scaler state does not fit this run ({e})") from None
    ranks = state.get("rng_per_rank") or [state["rng"]]
    rank = dist.get_rank()
    if len(ranks) == dist.get_world_size():
        ck.restore_rng(ranks[rank])
    else:  # a different world size cannot replay the same streams; keep ranks apart at least
        ck.restore_rng(state["rng"])
        if rank > 0:
            torch.manual_seed(torch.initial_seed() + 7919 * rank + int(state["epoch"]))
    return Progress(epoch=int(state["epoch"]), step=int(state["step"]))


def save_run(out_dir: Path, model: nn.Module, optimizer, scaler, sched: dict, progress: Progress, cfg) -> Path | None:
    """Checkpoint the run after ``progress.epoch`` epochs: every rank gives its RNG state (collective), rank 0
    writes ``last.pt`` and, every ``train.save_every`` epochs, ``epoch_XXXX.pt``; returns ``last.pt`` on rank 0."""
    rng = gather_rng()
    if not dist.is_main():
        return None
    state = _make_state(model, optimizer, scaler, sched, progress, cfg, rng)
    last = out_dir / LAST
    ck.save_checkpoint(state, last)
    if progress.epoch % cfg.train.save_every == 0:
        ck.save_checkpoint(state, out_dir / epoch_name(progress.epoch))
    return last


def config_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two ``Config.to_dict()`` trees."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
