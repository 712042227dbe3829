"""`results.json` of every evaluation run, and the markdown tables laid out like the paper's Tables 1-4.

A record holds the protocol, its metrics, what it was run on (benchmark, stream, variant), the config,
the checkpoint, the git commit of the code and the date. `results_table` puts our numbers beside the
paper's (`PAPER`, copied from Tables 1-4 of the ECCV 2022 paper) as "ours / paper" cells.
"""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cpm.version import __version__
from cpm.errors import CPMError

RESULTS_FILE = "results.json"
SCORES_FILE, LABELS_FILE, LOGITS_FILE = "scores.npy", "labels.npy", "logits.npy"
BENCHMARKS = {"ntu60-xsub": "NTU-60 X-Sub", "ntu60-xview": "NTU-60 X-View", "ntu120-xsub": "NTU-120 X-Sub",
              "ntu120-xset": "NTU-120 X-Set", "pku1": "PKU-MMD Part I", "pku2": "PKU-MMD Part II"}
_T1 = ["ntu60-xsub", "ntu60-xview", "ntu120-xsub", "ntu120-xset", "pku1", "pku2"]
_T3 = _T1[:4]

# Paper numbers (top-1 %, None = "-" in the paper), copied from Tables 1-4 of Zhang et al., ECCV 2022.
PAPER = {
    "table1": {"title": "Table 1. Linear evaluation (unsupervised) and supervised ST-GCN", "columns": _T1, "rows": {
        "C-CNN + MTLN (sup.)": [79.6, 84.8, None, None, None, None],
        "TSRJI (sup.)": [73.3, 80.3, 67.9, 62.8, None, None],
        "ST-GCN (sup.)": [81.5, 88.3, 70.7, 73.2, 84.1, 48.2],
        "LongT GAN": [39.1, 48.1, None, None, 67.7, 27.0],
        "ASCAL": [58.5, 64.8, 48.6, 49.2, None, None],
        "MS2L": [52.6, None, None, None, 64.9, 27.6],
        "P&C": [50.7, 76.3, None, None, None, None],
        "ISC": [76.3, 85.2, 67.9, 67.1, 80.9, 36.0],
        "CrosSCLR (joint)": [72.9, 79.9, None, None, None, None],
        "CrosSCLR (3S)": [77.8, 83.4, 67.9, 66.7, 84.9, None],
        "CPM (joint)": [78.7, 84.9, 68.7, 69.6, 88.8, 48.3],
        "CPM (3S)": [83.2, 87.0, 73.0, 74.0, 90.7, 51.5]}},
    "table2": {"title": "Table 2. Semi-supervised fine-tuning on NTU-60", "columns": _T1[:2], "rows": {
        "LongT GAN 1%": [35.2, None], "MS2L 1%": [33.1, None], "ISC 1%": [35.7, 38.1], "CPM 1%": [56.7, 57.5],
        "LongT GAN 10%": [62.0, None], "MS2L 10%": [65.2, None], "ISC 10%": [65.9, 72.5],
        "CPM 10%": [73.0, 77.1]}},
    "table3": {"title": "Table 3. Full fine-tuning", "columns": _T3, "rows": {
        "C-CNN + MTLN": [79.6, 84.8, None, None], "TSRJI": [73.3, 80.3, 67.9, 62.8],
        "ST-GCN": [81.5, 88.3, 70.7, 73.2], "CPM": [84.8, 91.1, 78.4, 78.9]}},
    "table4": {"title": "Table 4. Benefit of positive mining (linear evaluation, joint)", "columns": _T3, "rows": {
        "CPM (w/o PM)": [75.6, 81.7, 64.8, 64.7], "CPM": [78.7, 84.9, 68.7, 69.6]}},
}


def _sel(protocol, variant, stream="joint", fraction=None):
    return lambda r: (r.get("protocol") == protocol and r.get("variant") == variant and r.get("stream") == stream
                      and (fraction is None or abs((r.get("fraction") or 0) - fraction) < 1e-9))


# (table, row label, selector of our records); the row label doubles as the paper row when it has one
OURS = [
    ("table1", "ST-GCN (sup.)", _sel("finetune", "from-scratch")),
    ("table1", "CPM (joint)", _sel("linear", "cpm")),
    ("table1", "CPM (bone)", _sel("linear", "cpm", "bone")),
    ("table1", "CPM (motion)", _sel("linear", "cpm", "motion")),
    ("table1", "CPM (3S)", lambda r: _sel("ensemble", "cpm", "3S")(r) and r.get("member_protocol") == "linear"),
    ("table2", "CPM 1%", _sel("semi", "cpm", fraction=0.01)),
    ("table2", "CPM 10%", _sel("semi", "cpm", fraction=0.1)),
    ("table3", "ST-GCN", _sel("finetune", "from-scratch")),
    ("table3", "CPM", _sel("finetune", "cpm")),
    ("table4", "CPM (w/o PM)", _sel("linear", "cpm-wo-pm")),
    ("table4", "CPM", _sel("linear", "cpm")),
]


def git_commit(path=None) -> str:
    """`git rev-parse HEAD` of the code (the cpm package's checkout), "+dirty" if modified; "unknown" if not a repo."""
    where = Path(path) if path else Path(__file__).resolve().parents[1]  # the cpm package folder
    try:
        run = dict(cwd=where, capture_output=True, text=True, timeout=10, check=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **run).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "") if head else "unknown"


def variant_of(model_cfg, random_init: bool = False, from_scratch: bool = False) -> str:
    """Row variant: from-scratch | random-init | cpm-wo-pm | cpm. w/o PM = pretrained without the
    positive-enhanced stage (loss.topk = 0, or loss.pe_start_epoch >= train.epochs)."""
    if from_scratch:
        return "from-scratch"
    if random_init:
        return "random-init"
    no_pm = model_cfg.loss.topk == 0 or model_cfg.loss.pe_start_epoch >= model_cfg.train.epochs
    return "cpm-wo-pm" if no_pm else "cpm"


def make_record(protocol: str, metrics: dict, cfg=None, checkpoint=None, **extra) -> dict:
    """A results.json record; `cfg` is the evaluation Config (its dict is stored), `extra` adds fields
    such as stream, variant, fraction, benchmark (default: cfg.eval.benchmark)."""
    benchmark = extra.pop("benchmark", cfg.eval.benchmark if cfg is not None else "")
    return {"protocol": protocol, "metrics": metrics, "benchmark": benchmark,
            "name": cfg.name if cfg is not None else extra.pop("name", ""), **extra,
            "checkpoint": None if checkpoint is None else str(checkpoint),
            "config": cfg.to_dict() if cfg is not None else None, "git_commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpm_version": __version__}


def write_results(out_dir, record: dict) -> Path:
    """Write `<out_dir>/results.json` atomically; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, allow_nan=False, default=_plain))
    tmp.replace(path)
    return path


def _plain(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"results.json: cannot store {type(obj).__name__}")


def save_scores(out_dir, scores, labels, logits=None) -> None:
    """Test-set class scores (N, C) float32 and labels (N,) int64 as scores.npy / labels.npy, and the classifier
    outputs as logits.npy when the protocol has them (for ensembles)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / SCORES_FILE, np.asarray(scores, dtype=np.float32))
    np.save(out / LABELS_FILE, np.asarray(labels, dtype=np.int64))
    if logits is not None:
        np.save(out / LOGITS_FILE, np.asarray(logits, dtype=np.float32))


def load_scores(run_dir, fusion: str = "softmax") -> tuple[np.ndarray, np.ndarray, dict]:
    """(scores (N, C), labels (N,), results record or {}) of an evaluation output folder; `fusion` 'logits'
    reads the classifier outputs (logits.npy, written by linear_eval) instead of the softmax scores."""
    run = Path(run_dir)
    if fusion not in ("softmax", "logits"):
        raise CPMError(f"ensemble fusion: expected softmax|logits, got '{fusion}'")
    paths = [run / (LOGITS_FILE if fusion == "logits" else SCORES_FILE), run / LABELS_FILE]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise CPMError(f"ensemble member {run}: missing {', '.join(missing)} (expected the output folder of "
                       f"linear_eval{'' if fusion == 'logits' else ' / knn_eval / finetune / semi_supervised'})")
    try:
        scores, labels = np.load(paths[0]), np.load(paths[1])
    except (OSError, ValueError) as err:
        raise CPMError(f"ensemble member {run}: unreadable scores ({err})") from None
    if scores.ndim != 2 or labels.shape != (scores.shape[0],) or not np.isfinite(scores).all():
        raise CPMError(f"ensemble member {run}: expected finite scores (N, C) and labels (N,), got "
                       f"{scores.shape} and {labels.shape}")
    rec = json.loads((run / RESULTS_FILE).read_text()) if (run / RESULTS_FILE).is_file() else {}
    return scores, labels, rec


def ensemble_scores(members: list, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum (default: plain sum) of the members' scores (softmax or logits); members are
    (scores, labels, name) with identical labels, `weights` one number per member."""
    if len(members) < 2:
        raise CPMError(f"ensemble: need at least 2 score files, got {len(members)}")
    weights = [1.0] * len(members) if weights is None else list(weights)
    if len(weights) != len(members):
        raise CPMError(f"ensemble --weights: {len(weights)} weights given for {len(members)} members")
    ref_scores, ref_labels, ref_name = members[0]
    total = np.zeros(ref_scores.shape, dtype=np.float64)
    for (scores, labels, name), w in zip(members, weights):
        if scores.shape != ref_scores.shape or not np.array_equal(labels, ref_labels):
            raise CPMError(f"ensemble: {name} has scores {scores.shape} / other labels than {ref_name} "
                           f"{ref_scores.shape}; members must score the same test clips in the same order")
        total += w * scores
    return total, ref_labels


def load_results(paths) -> list:
    """Records from results.json files and folders (searched recursively); one-line error for a bad file."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob(RESULTS_FILE))
        elif p.is_file():
            files.append(p)
        else:
            raise CPMError(f"results: {p} is neither a results.json file nor a folder")
    records = []
    for f in files:
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError) as err:
            raise CPMError(f"results file {f}: not valid JSON ({err})") from None
        if not isinstance(rec, dict) or "protocol" not in rec or "metrics" not in rec:
            raise CPMError(f"results file {f}: expected a record with 'protocol' and 'metrics'")
        _check_types(rec, f)
        rec["_path"] = str(f)
        records.append(rec)
    return records


_NUMBER, _TEXT = (int, float), (str,)
_FIELD_TYPES = {"protocol": _TEXT, "benchmark": _TEXT, "name": _TEXT, "stream": _TEXT, "variant": _TEXT,
                "date": _TEXT, "fraction": _NUMBER, "metrics.top1": _NUMBER, "metrics.top5": _NUMBER}


def _check_types(rec: dict, path) -> None:
    """One-line error naming the first field whose type the tables cannot use (null is always allowed)."""
    if not isinstance(rec["metrics"], dict):
        raise CPMError(f"results file {path}: field 'metrics' must be a mapping, got {type(rec['metrics']).__name__}")
    for key, types in _FIELD_TYPES.items():
        node, leaf = (rec["metrics"], key[8:]) if key.startswith("metrics.") else (rec, key)
        value = node.get(leaf)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            want = "a number" if types is _NUMBER else "a string"
            raise CPMError(f"results file {path}: field '{key}' must be {want}, got {type(value).__name__} {value!r}")


def config_value(record: dict, key: str):
    """Value of a dotted config key (e.g. loss.topk) of the encoder's pretraining config stored in a record
    (`pretrain_config`, else the evaluation `config`); None if absent."""
    node = record.get("pretrain_config") or record.get("config") or {}
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def sweep_points(records: list, key: str, protocol: str = "linear") -> dict:
    """{benchmark: {x: top1}} over the records of `protocol`, x = config_value(key); latest run per point."""
    out: dict = {}
    for rec in sorted(records, key=lambda r: r.get("date", "")):
        x, top1 = config_value(rec, key), rec["metrics"].get("top1")
        if rec.get("protocol") != protocol or top1 is None or not isinstance(x, (int, float)) or isinstance(x, bool):
            continue
        out.setdefault(rec.get("benchmark") or rec.get("name") or "runs", {})[x] = top1
    return out


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.1f}"


def _latest(records: list):
    return max(records, key=lambda r: r.get("date", "")) if records else None


def _ours(rec) -> str:
    """Our cell: top-1, and which probe epoch it is where the record says (linear runs and their ensembles)."""
    if rec is None:
        return _fmt(None)
    epoch = rec["metrics"].get("reported") or rec.get("member_reported")
    return _fmt(rec["metrics"].get("top1")) + (f" ({epoch})" if epoch in ("best", "last") else "")


EPOCH_NOTE = ("Linear cells say which probe epoch they show: (best) = the best tested epoch, as CrosSCLR/AimCLR "
              "report (chosen on the test split), (last) = the last epoch; results.json holds both.")


def results_table(records: list) -> str:
    """Markdown: the paper's Tables 1-4 with "ours / paper" cells (latest run per cell), then our other runs."""
    used, parts = set(), []
    for key, table in PAPER.items():
        cols = table["columns"]
        if key == "table4":  # the paper lays Table 4 out transposed: benchmarks as rows
            rows = [["Benchmark", "CPM (w/o PM): ours / paper", "CPM: ours / paper"]]
            for i, col in enumerate(cols):
                cells = [BENCHMARKS[col]]
                for label in ("CPM (w/o PM)", "CPM"):
                    sel = next(s for t, lab, s in OURS if t == key and lab == label)
                    rec = _latest([r for r in records if sel(r) and r.get("benchmark") == col])
                    used.add(id(rec))
                    cells.append(f"{_ours(rec)} / {_fmt(table['rows'][label][i])}")
                rows.append(cells)
        else:
            rows = [["Method"] + [BENCHMARKS[c] + " (ours / paper)" for c in cols]]
            labels = list(table["rows"]) + [lab for t, lab, _ in OURS if t == key and lab not in table["rows"]]
            for label in labels:
                sel = next((s for t, lab, s in OURS if t == key and lab == label), None)
                paper = table["rows"].get(label, [None] * len(cols))
                cells = [label]
                for i, col in enumerate(cols):
                    rec = _latest([r for r in records if sel(r) and r.get("benchmark") == col]) if sel else None
                    used.add(id(rec))
                    cells.append(f"{_ours(rec)} / {_fmt(paper[i])}" if sel else _fmt(paper[i]))
                rows.append(cells)
        parts.append(f"### {table['title']}\n\n" + _markdown(rows))
    other = [r for r in records if id(r) not in used and r["metrics"].get("top1") is not None]
    if other:
        rows = [["Protocol", "Benchmark", "Stream", "Variant", "Top-1", "Top-5", "Run"]]
        for r in sorted(other, key=lambda r: (r.get("benchmark") or "", r["protocol"], r.get("date", ""))):
            proto = r["protocol"] + (f" {100 * r['fraction']:g}%" if r.get("fraction") else "")
            rows.append([proto, r.get("benchmark") or r.get("name", ""), r.get("stream", ""), r.get("variant", ""),
                         _ours(r), _fmt(r["metrics"].get("top5")), r.get("_path", "")])
        parts.append("### Other runs (not in the paper's tables)\n\n" + _markdown(rows))
    return "\n\n".join([EPOCH_NOTE] + parts) + "\n"


def _markdown(rows: list) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in body])
