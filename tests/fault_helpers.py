"""Helpers of the fault-injection tests: a tiny pretraining config, folder digests, the 'ended cleanly' check,
and a small tmpfs, full or read-only (root ignores file permissions: a read-only mount is an honest refusal)."""
from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

TINY_PRETRAIN = {
    "name": "tiny",
    "data": {"format": "synthetic", "num_frames": 8, "max_persons": 1, "num_workers": 0,
             "synthetic": {"num_train": 24, "num_test": 12}},
    "model": {"hidden_channels": 2, "hidden_dim": 8, "proj_hidden": 8, "proj_dim": 4, "pred_hidden": 8},
    "loss": {"queue_size": 16, "topk": 2, "pe_start_epoch": 1},
    "schedule": {"warmup_epochs": 1},
    "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "save_every": 1},
    "eval": {"knn_every": 0},
    "logging": {"tensorboard": False, "progress": False},
}


def tiny_pretrain_config(folder: Path) -> Path:
    """A YAML config whose 1-epoch pretraining takes about a second on one CPU thread."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny_pretrain.yaml"
    path.write_text(yaml.safe_dump(TINY_PRETRAIN))
    return path


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path: what must survive a refused command."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def assert_clean_end(code: int, err: str, want: int, *culprits: str) -> None:
    """The command ended with exit code `want` and one `error:` line naming every culprit, no traceback."""
    assert code == want, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for culprit in culprits:
        assert culprit in lines[0], lines[0]


def _mount(*args: str) -> bool:
    if shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def tmpfs(path: Path, populate=None, read_only: bool = True, size: str = "32m"):
    """Mount a tmpfs of `size` at `path`, let `populate(path)` write into it, remount it read-only (unless not
    `read_only`), yield `path`; skips the test where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    path.mkdir(parents=True, exist_ok=True)
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        if populate is not None:
            populate(path)
        if read_only and not _mount("-o", "remount,ro", str(path)):
            pytest.skip("cannot remount the tmpfs read-only here")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
