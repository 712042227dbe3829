"""Run logging: TensorBoard scalars + a ``metrics.jsonl`` file (plots without TensorBoard), rank 0 only.

Each line of ``metrics.jsonl`` is one record ``{"kind": "step"|"epoch"|"eval", "epoch": e, "step": s,
<tag>: value, ...}`` where ``step`` is the global iteration count *after* the step (epoch records: after
the epoch). On resume, records past the checkpoint's step are dropped so the file reads as one run.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from cpm.runtime.metrics_file import METRICS_FILE


def _clean(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None  # JSON has no NaN; null reads as "not available"


class RunLogger:
    """Writes scalars to TensorBoard (``<out>/tb``) and ``<out>/metrics.jsonl``; a no-op when not enabled."""

    def __init__(self, out_dir: str | Path, enabled: bool = True, resume_step: int | None = None,
                 tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.writer = None
        self._file = None
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / METRICS_FILE
        if resume_step is not None and path.exists():
            truncate_metrics(path, resume_step)
        elif resume_step is None and path.exists():
            path.unlink()  # a fresh (forced) run starts a fresh log
        self._file = path.open("a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            # purge_step hides events a crashed run wrote past the checkpoint we resume from
            self.writer = SummaryWriter(str(self.tb_dir), purge_step=resume_step)

    @property
    def tb_dir(self) -> Path:
        return self.out_dir / "tb"

    def log(self, kind: str, epoch: int, step: int, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` under ``<kind>/<tag>`` in TensorBoard and as one jsonl line."""
        if not self.enabled:
            return
        record = {"kind": kind, "epoch": int(epoch), "step": int(step), "time": round(time.time(), 3)}
        for tag, value in scalars.items():
            record[tag] = _clean(value)
            if self.writer is not None and record[tag] is not None:
                self.writer.add_scalar(f"{kind}/{tag}", record[tag], step)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def progress(self, total: int, epoch: int, num_epochs: int):
        """A tqdm bar for one epoch, rank 0 on a terminal only (``disable=None``: no bar into log files);
        ETA comes from tqdm itself."""
        return tqdm(total=total, desc=f"epoch {epoch + 1}/{num_epochs}", disable=None if self.enabled else True,
                    dynamic_ncols=True, leave=False)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self._file is not None:
            self._file.close()
            self._file = None


def truncate_metrics(path: Path, max_step: int) -> None:
    """Keep only records with ``step <= max_step`` (rewritten atomically)."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] <= max_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a half-written last line from a crash
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(path)
