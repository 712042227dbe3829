"""What every evaluation leaves in its output folder: test scores, the confusion matrix, per-class accuracy and
results.json (one function, used by each protocol's CLI and by the ensemble)."""
from __future__ import annotations

from pathlib import Path

from cpm.eval.metrics import per_class_table
from cpm.eval import plots
from cpm.eval.records import write_results
from cpm.eval.scores import save_scores


def write_outputs(out, report: dict, scores, labels, record: dict, title: str, class_names=None,
                  logits=None) -> Path:
    """Write scores.npy / labels.npy (and logits.npy), confusion.png titled with the top-1 of `report` (a
    classification report), per_class.md and `record` as results.json into `out`; returns the results.json path."""
    out = Path(out)
    save_scores(out, scores, labels, logits)
    plots.plot_confusion(report["confusion"], out / "confusion.png", title=f"{title}: top-1 {report['top1']:.1f}%",
                         class_names=class_names)
    (out / "per_class.md").write_text(per_class_table(report["per_class"], report["confusion"], class_names))
    return write_results(out, record)
