"""The markdown tables laid out like the paper's Tables 1-4: our numbers beside the paper's (`PAPER`, copied from
Tables 1-4 of the ECCV 2022 paper) as "ours / paper" cells, and hyper-parameter sweeps (Figs. 4-5)."""
from __future__ import annotations

from cpm.eval.records import config_value

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
