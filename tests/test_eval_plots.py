"""Figures: confusion matrix, t-SNE panels, mining precision read from the trainer's metrics.jsonl."""
import numpy as np
import pytest

from cpm.errors import CPMError
from cpm.eval.plots import mining_curve, plot_confusion, plot_mining, plot_sweep, plot_tsne
from cpm.eval.tsne import pick_classes, sample_indices, tsne_2d
from cpm.train.logger import RunLogger

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def test_confusion_png(tmp_path):
    cm = np.array([[3, 1], [0, 4]])
    assert _is_png(plot_confusion(cm, tmp_path / "cm.png", class_names=["wave", "kick"]))
    assert _is_png(plot_confusion(np.eye(60, dtype=int) * 5, tmp_path / "big.png"))  # 60 classes, thinned ticks
    with pytest.raises(CPMError, match="square"):
        plot_confusion(np.zeros((2, 3)), tmp_path / "bad.png")


def test_pick_classes_and_samples():
    labels = np.repeat(np.arange(12), [5] * 11 + [300])
    classes = pick_classes(labels, 10, seed=0)
    assert len(classes) == 10 and len(set(classes.tolist())) == 10 and np.all(np.diff(classes) > 0)
    assert np.array_equal(classes, pick_classes(labels, 10, seed=0))
    assert pick_classes(np.array([2, 2, 5]), 10).tolist() == [2, 5]  # fewer classes than asked: all
    idx = sample_indices(labels, [0, 11], max_per_class=200, seed=0)
    assert np.bincount(labels[idx], minlength=12)[[0, 11]].tolist() == [5, 200]


def test_tsne_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    feats = rng.normal(size=(30, 8)) + 4 * np.eye(8)[labels]
    xy = tsne_2d(feats, seed=0, perplexity=5)
    assert xy.shape == (30, 2) and np.isfinite(xy).all()
    # well separated clusters stay separated: each point's nearest 2-D neighbour has its class
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1) + np.eye(30) * 1e9
    assert (labels[d.argmin(1)] == labels).mean() > 0.9
    png = plot_tsne([("w/o PM", xy, labels), ("CPM", xy[::-1], labels[::-1])], tmp_path / "tsne.png")
    assert _is_png(png)
    with pytest.raises(CPMError, match="N >= 3"):
        tsne_2d(np.zeros((2, 4)))


def _fake_run(out, precisions):
    log = RunLogger(out, tensorboard=False)
    for e, p in enumerate(precisions):
        log.log("step", e, 10 * e + 5, {"loss": 1.0, "mining_precision": 0.0})  # step records are ignored
        log.log("epoch", e, 10 * (e + 1), {"loss": 1.0, "mining_precision": p})
    log.close()
    return out


def test_mining_curve_from_trainer_log(tmp_path):
    run = _fake_run(tmp_path / "cpm", [0.2, float("nan"), 0.5, 0.75])
    ep, val = mining_curve(run)
    assert ep.tolist() == [1, 3, 4]  # the NaN epoch (logged as null) is skipped
    assert val.tolist() == pytest.approx([20.0, 50.0, 75.0])
    wo = _fake_run(tmp_path / "wo_pm", [0.1, 0.2, 0.25, 0.3])
    png = plot_mining([("CPM", ep, val), ("CPM (w/o PM)", *mining_curve(wo))], tmp_path / "m.png", k=100)
    assert _is_png(png)


def test_mining_curve_errors(tmp_path):
    with pytest.raises(CPMError, match="metrics.jsonl"):
        mining_curve(tmp_path)
    run = _fake_run(tmp_path / "r", [float("nan")])
    with pytest.raises(CPMError, match="no epoch records with 'mining_precision'"):
        mining_curve(run)


def test_sweep_png(tmp_path):
    png = plot_sweep([("NTU-60 X-View", [25, 400, 100], [80.0, 82.0, 85.0])], tmp_path / "k.png", xlabel="K")
    assert _is_png(png)
    with pytest.raises(CPMError, match="nothing to draw"):
        plot_sweep([], tmp_path / "none.png", xlabel="K")


def test_training_curves_draw_the_students_knn_dashed_beside_the_eval_encoders(tmp_path, monkeypatch):
    """With eval.encoder target / average the trainer logs the student's kNN too: same colour, dashed."""
    from cpm.eval import plots

    log = RunLogger(tmp_path / "avg", tensorboard=False)
    for e, (knn, student) in enumerate([(40.0, 38.0), (50.0, 45.0)]):
        log.log("epoch", e, e + 1, {"knn_top1": knn, "knn_student_top1": student, "feat_spread": 0.3})
    log.close()
    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    plots.plot_training_curves([tmp_path / "avg"], tmp_path / "c.png", labels=["avg"])
    lines = figs[0].axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["avg", "avg (student)"]
    assert lines[1].get_linestyle() == "--" and lines[1].get_color() == lines[0].get_color()
    assert lines[1].get_ydata().tolist() == [38.0, 45.0]
