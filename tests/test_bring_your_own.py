"""Bring your own skeletons, end to end through the documented commands (pretrain, linear eval, t-SNE):
a Kinect SDK order dataset (built-in layout, and a custom layout whose tree root is not its centre) and a
pyskl 2-D pickle with named classes. Tiny shapes, CPU, in-process mains (the scripts are thin wrappers)."""
import json
import pickle

import numpy as np
import pytest
import torch
import yaml

import cpm
import cpm.eval.plots as plots
from cpm.config import Config, load_config
from cpm.data.dataset import resize_valid_frames
from cpm.data.readers import read_msr_action3d
from cpm.errors import CPMError
from cpm.cli.evaluate import linear_main
from cpm.cli.tools import tsne_main
from cpm.eval.features import check_compatible
from cpm.graph import Graph, get_layout
from cpm.cli.pretrain import main as pretrain_main

FAST = ["--no-progress", "--device", "cpu"]
T, CLASSES = 16, 4


def tiny(data: dict, out) -> dict:
    """A config small enough for CPU tests around the given data section."""
    return {"name": "byo", "data": {"num_frames": T, "num_workers": 0, **data},
            "model": {"hidden_channels": 4, "hidden_dim": 16, "proj_hidden": 16, "proj_dim": 8, "pred_hidden": 16},
            "loss": {"queue_size": 16, "topk": 4, "pe_start_epoch": 1},
            "train": {"epochs": 2, "batch_size": 8, "device": "cpu", "out_dir": str(out)},
            "schedule": {"warmup_epochs": 1},
            "eval": {"linear_epochs": 3, "linear_milestones": [2], "batch_size": 8},
            "logging": {"tensorboard": False, "progress": False}}


def motion(n: int, v: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, T, V) a body spread along x whose joints wave in y with frequency label + 1; labels (n,)."""
    labels = np.arange(n) % CLASSES
    t = np.arange(T) / T
    x = 0.05 * rng.standard_normal((n, 2, T, v))
    x[:, 0] += np.linspace(-0.5, 0.5, v)
    x[:, 1] += np.sin(2 * np.pi * (labels[:, None] + 1) * t)[:, :, None] * np.linspace(0.2, 1.0, v)
    return x, labels


def run_commands(tmp_path, cfg: dict) -> dict:
    """pretrain -> linear eval (the README's commands); returns the linear results.json."""
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert pretrain_main(["--config", str(path)]) == 0
    ckpt = tmp_path / "run" / "last.pt"
    assert linear_main(["--checkpoint", str(ckpt), *FAST, "--out", str(tmp_path / "linear")]) == 0
    return json.loads((tmp_path / "linear" / "results.json").read_text())


def kinect_sdk_arrays(root):
    """st-gcn arrays (N, 3, T, 20, 1) in the Kinect SDK joint order (hip centre first)."""
    rng = np.random.default_rng(0)
    root.mkdir()
    for split, n in (("train", 16), ("val", 8)):
        xy, labels = motion(n, 20, rng)
        x = np.concatenate([xy, 0.05 * rng.standard_normal((n, 1, T, 20))], axis=1)[..., None]
        np.save(root / f"{split}_data.npy", x.astype(np.float32))
        np.save(root / f"{split}_label.npy", labels)
    return root


@pytest.mark.parametrize("layout", ["kinect_sdk", "custom"])
def test_kinect_sdk_order_dataset_runs(tmp_path, layout):
    data = {"format": "arrays", "root": str(kinect_sdk_arrays(tmp_path / "data")), "test_split": "val",
            "max_persons": 1, "layout": layout}
    if layout == "custom":  # the same skeleton written by hand: tree rooted at the hip centre, centre = spine
        data |= {"layout_num_joints": 20, "layout_edges": [list(e) for e in get_layout("kinect_sdk").edges],
                 "layout_center": 1, "stream": "bone"}
    rec = run_commands(tmp_path, tiny(data, tmp_path / "run"))
    assert rec["metrics"]["num_test"] == 8 and rec["config"]["data"]["layout"] == layout
    assert rec["stream"] == ("bone" if layout == "custom" else "joint")


def pyskl_2d_pickle(path, rng) -> list:
    """An NTU-2D-like pyskl pickle: COCO-17 keypoints in pixels of 640x480 frames with scores, 1 or 2 persons,
    zero-padded frames past total_frames, splits xsub_train / xsub_val (no xsub_test: a missing split)."""
    anns, split = [], {"xsub_train": [], "xsub_val": []}
    for s, n in (("xsub_train", 16), ("xsub_val", 8)):
        xy, labels = motion(n, 17, rng)
        for i in range(n):
            m, total = 1 + i % 2, T - i % 3
            kp = np.zeros((m, T + 2, 17, 2), np.float32)
            kp[0, :total] = (xy[i].transpose(1, 2, 0)[:total] * 200 + (320, 240))
            if m == 2:  # a still bystander
                kp[1, :total] = np.stack([np.linspace(40, 120, 17), np.full(17, 400.0)], -1)
            score = (kp.sum(-1) != 0) * 0.9
            name = f"{s}_{i:03d}"
            anns.append({"frame_dir": name, "label": int(labels[i]), "img_shape": (480, 640),
                         "original_shape": (480, 640), "total_frames": total, "keypoint": kp,
                         "keypoint_score": score.astype(np.float32)})
            split[s].append(name)
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": anns}, f)
    return anns


def test_pyskl_2d_pickle_pretrains_linear_evaluates_and_plots_with_names(tmp_path, monkeypatch):
    pyskl_2d_pickle(tmp_path / "my_2d.pkl", np.random.default_rng(1))
    names = ["wave slowly", "wave", "wave fast", "wave faster"]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    data = {"format": "pyskl", "root": str(tmp_path / "my_2d.pkl"), "train_split": "xsub_train",
            "test_split": "xsub_val", "layout": "coco17", "channels": "xys", "max_persons": 2,
            "class_names_file": str(tmp_path / "classes.txt")}
    drawn = {}

    def recording(name, real):
        def draw(*args, **kwargs):  # record what the figure is given, then draw it
            drawn[name] = kwargs
            return real(*args, **kwargs)
        return draw

    for fn in ("plot_confusion", "plot_tsne"):
        monkeypatch.setattr(plots, fn, recording(fn, getattr(plots, fn)))
    rec = run_commands(tmp_path, tiny(data, tmp_path / "run"))
    assert rec["metrics"]["num_test"] == 8 and rec["class_names"] == names
    assert rec["pretrain_config"]["model"]["in_channels"] == 3 and rec["config"]["data"]["channels"] == "xys"
    table = (tmp_path / "linear" / "per_class.md").read_text()
    assert all(f"| {c} | {n} | 2 |" in table for c, n in enumerate(names))
    assert drawn["plot_confusion"]["class_names"] == names
    assert tsne_main(["--checkpoint", str(tmp_path / "run" / "last.pt"), *FAST, "--out", str(tmp_path / "tsne"),
                      "--classes", "4", "--perplexity", "2"]) == 0
    assert drawn["plot_tsne"]["class_names"] == names
    assert (tmp_path / "tsne" / "tsne.png").read_bytes()[:4] == b"\x89PNG"
    # (x, y) only: model.in_channels follows data.channels (2), the same commands run
    data2 = data | {"channels": "xy"}
    cfg2 = tiny(data2, tmp_path / "xy" / "run")
    cfg2["model"]["in_channels"] = 2
    (tmp_path / "xy").mkdir()
    rec2 = run_commands(tmp_path / "xy", cfg2)
    assert rec2["pretrain_config"]["model"]["in_channels"] == 2


@pytest.mark.parametrize("text, msg", [
    ("data:\n  channels: xyzs\n", "'data.channels': expected xyz|xys|xy, got 'xyzs'"),
    ("data:\n  channels: xy\n", "'model.in_channels': 3, but data.channels='xy' feeds 2 per joint; set "
                                "model.in_channels=2"),
    ("data:\n  layout: coco\n", "'data.layout': expected ntu\\|kinect_v1\\|kinect_sdk\\|coco17\\|openpose18\\|custom"),
    ("data:\n  layout: custom\n  layout_num_joints: 3\n  layout_edges: [[0, 1], [0, 2]]\n  layout_center: 2\n",
     "joint 0 is the child of two edges"),
])
def test_config_checks_channels_and_layouts(tmp_path, text, msg):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(CPMError, match=msg):
        load_config(tmp_path / "c.yaml")


def test_evaluation_data_must_feed_the_encoder_its_channels():
    model_cfg, eval_cfg = Config(), Config()
    eval_cfg.data.channels, eval_cfg.model.in_channels = "xy", 2
    with pytest.raises(CPMError, match="the encoder takes 3 channels per joint .* data.channels='xy'"):
        check_compatible(model_cfg, eval_cfg, "ckpt.pt")


# Kinect SDK index -> MSR Action3D index (0-based) of the same joint (MSR's readme order; cpm/graph.py)
SDK_TO_MSR = [6, 3, 2, 19, 0, 7, 9, 11, 1, 8, 10, 12, 4, 13, 15, 17, 5, 14, 16, 18]


def test_kinect_sdk_is_msr_kinect_v1_reordered():
    p = np.asarray(SDK_TO_MSR)
    assert sorted(p.tolist()) == list(range(20))
    sdk, v1 = get_layout("kinect_sdk"), get_layout("kinect_v1")
    assert p[sdk.center] == v1.center and tuple(p[list(sdk.shoulders)]) == v1.shoulders
    np.testing.assert_array_equal(Graph(sdk).A, Graph(v1).A[:, p][:, :, p])  # the same skeleton, relabelled


def test_real_msr_recording_in_kinect_sdk_order_gives_the_same_features(shared_data):
    """A real Kinect v1 recording (MSR Action3D a01_s01_e01) written in the Kinect SDK order: a seeded
    random encoder with layout kinect_sdk embeds it exactly as the MSR-order clip with layout kinect_v1."""
    clip = resize_valid_frames(read_msr_action3d(shared_data / "msr_action3d", "train").data[0], T)
    feats = {}
    for layout, x in (("kinect_v1", clip), ("kinect_sdk", clip[:, :, SDK_TO_MSR])):
        cfg = Config()
        cfg.data.layout, cfg.data.max_persons, cfg.data.num_frames = layout, 1, T
        cfg.model.hidden_channels, cfg.model.hidden_dim = 4, 16
        torch.manual_seed(0)
        feats[layout] = cpm.embed(cpm.build_encoder(cfg).eval(), x[None])
    assert torch.allclose(feats["kinect_v1"], feats["kinect_sdk"], atol=1e-5)
    assert feats["kinect_v1"].abs().sum() > 0
