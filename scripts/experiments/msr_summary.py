"""The mean +- std table of the MSR Action3D experiment (scripts/experiments/msr_action3d.py).

scripts/results_table.py lays runs out like the paper's tables, one row per run; this experiment needs one
row per method with the spread over seeds, so it is rendered here from the same results.json files.
It also shows the standardised linear probe that linear_eval.py reports next to the lineage one
(eval.linear_standardize, cpm.eval.linear.standardize): the lineage probe (SGD lr 3.0 on raw features) cannot
train on the features of an encoder at random init, whose outputs barely vary between clips, so its top-1
sits at chance for a reason that says nothing about the features.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cpm.eval.plots import mining_curve

ROWS = [("CPM (both stages)", "cpm"), ("CPM w/o PM (stage 1 only)", "cpm_wo_pm"),
        ("Same encoder, random init", "random_init"), ("Supervised ST-GCN from scratch", "supervised")]


def _top1(path: Path, key: str = "top1"):
    f = path / "results.json"
    return json.loads(f.read_text())["metrics"].get(key) if f.is_file() else None


def _mining(run_dir: Path):
    """Mining precision (%) of the top-K queue entries in the last epoch of a pretraining run (None if absent)."""
    if not (run_dir / "metrics.jsonl").is_file():
        return None
    _, val = mining_curve(run_dir)
    return float(val[-1])


def _fmt(values) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "–"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if v.size > 1 else f"{v[0]:.1f}"


def summarize(out: Path, seeds, cfg, protocol: str, wall_s: float, command: str,
              inputs: dict | None = None) -> str:
    """Collect every seed's numbers, write summary.json and summary.md under `out`; returns the markdown.
    `inputs`: kNN and standardised linear top-1 on the input clips themselves (cpm.eval.protocols.input_probes),
    one row of its own."""
    per = {key: {"linear": [], "knn": [], "linear_std": [], "mining": [], "finetune": []} for _, key in ROWS}
    for s in seeds:
        d = out / f"seed{s}"
        for _, key in ROWS:
            r = per[key]
            if key == "supervised":
                r["finetune"].append(_top1(d / key))
                continue
            r["linear"].append(_top1(d / key / "linear"))
            r["knn"].append(_top1(d / key / "knn"))
            r["linear_std"].append(_top1(d / key / "linear", "top1_standardized"))
            r["mining"].append(None if key == "random_init" else _mining(d / key))
    split = {"xsub": "cross-subject test (subjects 2,4,6,8,10)", "val": "validation split (subjects 7,9)"}[protocol]
    lines = [f"MSR Action3D, {split}; {len(seeds)} seeds: mean ± std (sample std)", "",
             f"| Method | Linear top-1 (%) | kNN top-1 (%), k={cfg.eval.knn_k} | Standardised linear top-1 (%) "
             f"| Supervised top-1 (%) | Mining precision, top-{cfg.loss.topk}, last epoch (%) |",
             "|---|---|---|---|---|---|"]
    for label, key in ROWS:
        r = per[key]
        lines.append(f"| {label} | {_fmt(r['linear'])} | {_fmt(r['knn'])} | {_fmt(r['linear_std'])} "
                     f"| {_fmt(r['finetune'])} | {_fmt(r['mining'])} |")
    if inputs is not None:  # no encoder; the kNN has no seed, the probe runs with seed 0
        lines.append(f"| The input clips (no encoder) | – | {inputs['knn']:.1f} | {inputs['linear_std']:.1f} "
                     "| – | – |")

    def gap(metric: str) -> float:  # mean over seeds of CPM minus random init
        pairs = [(a, b) for a, b in zip(per["cpm"][metric], per["random_init"][metric]) if None not in (a, b)]
        return float(np.mean([a - b for a, b in pairs])) if pairs else float("nan")

    lines += ["", f"CPM - random init: linear {gap('linear'):+.1f} points, kNN {gap('knn'):+.1f}, standardised "
                  f"linear {gap('linear_std'):+.1f}; chance is {100 / (cfg.data.num_classes or 20):.0f} %.",
              f"Command: `{command}`; wall time {wall_s / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"protocol": protocol, "seeds": list(seeds), "results": per,
                                                  "inputs": inputs, "wall_s": wall_s,
                                                  "command": command}, indent=2))
    return text
