"""The 3-stream ensemble (Table 1 '3S') as a library call: the weighted sum of several evaluation runs' test
scores, its classification report, and what the members share (benchmark, name, variant, protocol, classes)."""
from __future__ import annotations

import typing
from pathlib import Path

from cpm.config.schema import Stream
from cpm.eval.metrics import classification_report
from cpm.eval.scores import ensemble_scores, load_scores

STREAM_SET = set(typing.get_args(Stream))  # all three: the 3S ensemble


def _agree(values: list) -> str:
    """The value all members share, "mixed" if they differ, "" if none has one."""
    vals = {v for v in values if v not in (None, "")}
    return vals.pop() if len(vals) == 1 else ("mixed" if vals else "")


def ensemble_runs(runs: list, fusion: str = "softmax", weights=None) -> dict:
    """Fuse the scores (`fusion` softmax | logits) of the evaluation output folders `runs`, weighted by `weights`
    (default all 1). Returns {"scores", "labels", "report" (classification report), "stream" ("3S" for joint +
    bone + motion), "class_names", "members" (run, stream, top1, checkpoint), "fields" (results.json fields)}."""
    loaded = [(run, *load_scores(run, fusion)) for run in runs]
    total, labels = ensemble_scores([(s, y, run) for run, s, y, _ in loaded], weights)
    recs = [rec for *_, rec in loaded]
    streams = [rec.get("stream") for rec in recs]
    stream = "3S" if sorted(s for s in streams if s) == sorted(STREAM_SET) else "+".join(s or "?" for s in streams)
    names = next((rec["class_names"] for rec in recs if rec.get("class_names")), None)  # as the members named them
    members = [{"run": str(run), "stream": rec.get("stream"), "top1": rec.get("metrics", {}).get("top1"),
                "checkpoint": rec.get("checkpoint")} for run, *_, rec in loaded]
    fields = dict(benchmark=_agree([r.get("benchmark") for r in recs]), name=_agree([r.get("name") for r in recs]),
                  stream=stream, variant=_agree([r.get("variant") for r in recs]),
                  member_protocol=_agree([r.get("protocol") for r in recs]), members=members, class_names=names,
                  fusion=fusion, weights=weights or [1.0] * len(loaded),
                  member_reported=_agree([r.get("metrics", {}).get("reported") for r in recs]))
    return {"scores": total, "labels": labels, "report": classification_report(total, labels), "stream": stream,
            "class_names": names, "members": members, "fields": fields}


def is_member(runs: list, out) -> str | None:
    """The member folder that `out` is (writing the ensemble there would overwrite it), or None."""
    return next((run for run in runs if Path(run).resolve() == Path(out).resolve()), None)
