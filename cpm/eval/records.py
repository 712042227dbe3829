"""`results.json`: the record every evaluation run writes (protocol, metrics, what it ran on, the config, the
checkpoint, the git commit of the code and the date), and reading records back with their types checked."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from cpm.errors import CPMError
from cpm.version import __version__

RESULTS_FILE = "results.json"


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


VARIANT_TITLES = {"cpm-wo-pm": "CPM (w/o PM)", "cpm": "CPM"}  # panel / legend label of a pretrained variant


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
