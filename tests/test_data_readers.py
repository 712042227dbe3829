"""Each reader on small files written in its exact format, read back through build_dataset."""
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cpm.config import DataConfig
from cpm.data import build_dataset
from cpm.data.dataset import resize_valid_frames
from cpm.errors import CPMError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def coded(n, t, v=25, m=2):
    """(N, 3, T, V, M) float32 whose value encodes its index: 10000 n + 1000 c + 100 m + 10 t' + v/100."""
    idx = np.indices((n, 3, t, v, m)).astype(np.float32)
    return 10000 * idx[0] + 1000 * idx[1] + 100 * idx[4] + 10 * idx[2] + idx[3] / 100 + 1


def arrays_cfg(root, **kw):
    kw.setdefault("normalize", False)  # these tests check the readers' values, not the centring
    return DataConfig(format="arrays", root=str(root), num_frames=kw.pop("num_frames", 6), **kw)


def write_arrays(root, data, labels, split="train", kind="data", label_format="pkl"):
    np.save(root / f"{split}_{kind}.npy", data)
    if label_format == "pkl":
        with open(root / f"{split}_label.pkl", "wb") as f:
            pickle.dump(([f"S{i:03d}" for i in range(len(labels))], list(labels)), f)
    else:
        np.save(root / f"{split}_label.npy", np.asarray(labels))


# ---------------------------------------------------------------- st-gcn / CrosSCLR arrays
def test_arrays_exact_values_labels_and_names(tmp_path):
    data = coded(3, 6)
    write_arrays(tmp_path, data, [4, 0, 7])
    ds = build_dataset(arrays_cfg(tmp_path), "train")
    assert len(ds) == 3 and ds.labels.dtype == np.int64 and ds.labels.tolist() == [4, 0, 7]
    assert ds.num_classes == 8 and ds.layout.name == "ntu" and ds.names == ["S000", "S001", "S002"]
    x, y = ds[2]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (3, 6, 25, 2) and y == 7
    assert x[1, 4, 7, 1].item() == pytest.approx(20000 + 1000 + 100 + 40 + 0.07 + 1)
    np.testing.assert_array_equal(x.numpy(), data[2])


def test_arrays_label_npy_position_preferred_and_array_name(tmp_path):
    write_arrays(tmp_path, coded(2, 6), [1, 2], label_format="npy")
    write_arrays(tmp_path, 2 * coded(2, 6), [1, 2], kind="position", label_format="npy")
    ds = build_dataset(arrays_cfg(tmp_path), "train")
    assert ds[0][0][0, 0, 0, 0].item() == 2.0 and ds.names is None  # position: 2 * 1
    ds = build_dataset(arrays_cfg(tmp_path, array_name="data"), "train")
    assert ds[0][0][0, 0, 0, 0].item() == 1.0


def test_arrays_resize_valid_frames_and_persons(tmp_path):
    data = np.zeros((1, 3, 6, 25, 1), np.float32)
    data[0, :, :4] = np.arange(1, 5, dtype=np.float32)[None, :, None, None]  # 4 valid frames 1..4, then zeros
    write_arrays(tmp_path, data, [0])
    ds = build_dataset(arrays_cfg(tmp_path, num_frames=3, max_persons=2), "train")
    x = ds[0][0].numpy()
    assert x.shape == (3, 3, 25, 2)
    # linear, align_corners=False: positions (i + 0.5) * 4/3 - 0.5 = 1/6, 3/2, 17/6 -> values 7/6, 5/2, 23/6
    np.testing.assert_allclose(x[2, :, 11, 0], [7 / 6, 5 / 2, 23 / 6], rtol=1e-6)
    np.testing.assert_array_equal(x[..., 1], 0)  # padded second person
    # same result as torch's linear interpolation of the valid frames
    ref = torch.nn.functional.interpolate(torch.arange(1.0, 5.0)[None, None], size=3, mode="linear")
    np.testing.assert_allclose(x[0, :, 0, 0], ref[0, 0].numpy(), rtol=1e-6)


def test_resize_skips_leading_padding_and_keeps_matching_lengths():
    x = np.zeros((3, 5, 2, 1), np.float32)
    x[:, 2], x[:, 3] = 1.0, 3.0  # frames 0, 1 and 4 are zero padding
    out = resize_valid_frames(x, 3)  # valid frames 2..3 (values 1, 3) -> positions -1/6, 1/2, 7/6 clipped
    np.testing.assert_allclose(out[0, :, 0, 0], [1.0, 2.0, 3.0])
    assert resize_valid_frames(x, 5) is x
    np.testing.assert_array_equal(resize_valid_frames(np.zeros((3, 5, 2, 1), np.float32), 4), 0)


def test_arrays_crop_persons(tmp_path):
    write_arrays(tmp_path, coded(1, 6, m=3), [0])
    x = build_dataset(arrays_cfg(tmp_path, max_persons=2), "train")[0][0].numpy()
    assert x.shape == (3, 6, 25, 2) and x[0, 0, 0, 1] == 101.0  # persons 0 and 1 kept


def test_arrays_are_read_row_by_row_not_loaded(tmp_path, monkeypatch):
    write_arrays(tmp_path, coded(5, 6), [0] * 5)
    ds = build_dataset(arrays_cfg(tmp_path), "train")
    reads = []
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: reads.append((n, off)) or real(fd, n, off))
    ds[3]
    row = 3 * 6 * 25 * 2 * 4
    assert reads == [(row, 128 + 3 * row)]  # one read of exactly one sample after the 128-byte .npy header
    assert len(pickle.dumps(ds)) < 5 * row  # workers get the path, not the data
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds))[4][0].numpy(), coded(5, 6)[4])


def test_arrays_nan_checked_lazily_or_by_scan(tmp_path):
    data = coded(3, 6)
    data[1, 2, 3, 4, 0] = np.nan
    write_arrays(tmp_path, data, [0, 1, 2])
    ds = build_dataset(arrays_cfg(tmp_path), "train")
    ds[0], ds[2]
    with pytest.raises(CPMError, match=r"train_data.npy: sample 1 has NaN/inf"):
        ds[1]
    with pytest.raises(CPMError, match=r"train_data.npy: sample 1 has NaN/inf"):
        build_dataset(arrays_cfg(tmp_path, scan=True), "train")


def test_arrays_scan_drops_and_counts_empty_samples(tmp_path):
    data = coded(4, 6)
    data[2] = 0
    write_arrays(tmp_path, data, [0, 1, 2, 3])
    ds = build_dataset(arrays_cfg(tmp_path, scan=True), "train")
    assert len(ds) == 3 and ds.num_skipped == 1 and ds.labels.tolist() == [0, 1, 3] and ds.names[2] == "S003"
    np.testing.assert_array_equal(ds[2][0].numpy(), data[3])
    assert build_dataset(arrays_cfg(tmp_path), "train").num_skipped == 0  # lazy mode: returned as zeros


def test_arrays_bad_input(tmp_path):
    with pytest.raises(CPMError, match=r"data folder not found: .*nowhere.*train_position.npy or train_data.npy"):
        build_dataset(arrays_cfg(tmp_path / "nowhere"), "train")
    np.save(tmp_path / "val_data.npy", coded(2, 6))
    with pytest.raises(CPMError, match=r"missing val_label.pkl or val_label.npy"):
        build_dataset(arrays_cfg(tmp_path), "test")
    write_arrays(tmp_path, coded(2, 6, v=20), [0, 1])
    with pytest.raises(CPMError, match=r"train_data.npy: found shape \(2, 3, 6, 20, 2\), expected \(N, 3, T, 25, M\)"):
        build_dataset(arrays_cfg(tmp_path), "train")
    write_arrays(tmp_path, coded(2, 6)[:, :, :, :, :, None], [0, 1])
    with pytest.raises(CPMError, match=r"found shape \(2, 3, 6, 25, 2, 1\)"):
        build_dataset(arrays_cfg(tmp_path), "train")
    write_arrays(tmp_path, coded(2, 6).astype(np.int32), [0, 1])
    with pytest.raises(CPMError, match=r"train_data.npy: dtype int32, expected a float array"):
        build_dataset(arrays_cfg(tmp_path), "train")
    write_arrays(tmp_path, coded(2, 6), [0, 1, 1])
    with pytest.raises(CPMError, match=r"train_label.pkl: 3 labels but 2 samples"):
        build_dataset(arrays_cfg(tmp_path), "train")
    write_arrays(tmp_path, coded(2, 6), [0, -1])
    with pytest.raises(CPMError, match=r"labels must be >= 0"):
        build_dataset(arrays_cfg(tmp_path), "train")
    write_arrays(tmp_path, coded(2, 6), [0, 1])
    (tmp_path / "train_data.npy").write_bytes((tmp_path / "train_data.npy").read_bytes()[:500])
    with pytest.raises(CPMError, match=r"train_data.npy: not a readable .npy"):
        build_dataset(arrays_cfg(tmp_path), "train")
    with pytest.raises(CPMError, match="split must be 'train' or 'test', got 'val'"):
        build_dataset(arrays_cfg(tmp_path), "val")


# ---------------------------------------------------------------- CTR-GCN npz
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_ctrgcn_layout_and_one_hot(tmp_path, save):
    x = np.arange(2 * 4 * 150, dtype=np.float32).reshape(2, 4, 150) + 1
    y = np.eye(5, dtype=np.float32)[[3, 1]]
    save(tmp_path / "NTU60_CS.npz", x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])
    cfg = DataConfig(format="ctrgcn", root=str(tmp_path / "NTU60_CS.npz"), num_frames=4, normalize=False)
    ds = build_dataset(cfg, "train")
    assert ds.labels.tolist() == [3, 1] and ds.num_classes == 5 and len(build_dataset(cfg, "test")) == 1
    s = ds[1][0].numpy()
    # feature index of (person m, joint v, coord c) in a frame is m * 75 + v * 3 + c (CTR-GCN's reshape)
    assert s.shape == (3, 4, 25, 2)
    assert s[2, 3, 7, 1] == x[1, 3, 75 + 21 + 2] and s[0, 0, 24, 0] == x[1, 0, 72]


def test_ctrgcn_bad_input(tmp_path):
    cfg = DataConfig(format="ctrgcn", root=str(tmp_path / "d.npz"), normalize=False)
    with pytest.raises(CPMError, match=r"CTR-GCN file not found: .*d.npz \(expected an .npz with x_train"):
        build_dataset(cfg, "train")
    np.savez(tmp_path / "d.npz", x_train=np.ones((2, 4, 150), np.float32), y_train=np.eye(3)[[0, 1]])
    with pytest.raises(CPMError, match=r"missing array 'x_test' \(found \['x_train', 'y_train'\]"):
        build_dataset(cfg, "test")
    np.savez(tmp_path / "d.npz", x_train=np.ones((2, 4, 149), np.float32), y_train=np.eye(3)[[0, 1]])
    with pytest.raises(CPMError, match=r"x_train has shape \(2, 4, 149\), expected \(N, T, M\*25\*3\)"):
        build_dataset(cfg, "train")
    np.savez(tmp_path / "d.npz", x_train=np.ones((2, 4, 150), np.float32), y_train=np.array([[1, 0, 0], [0, 1, 1]]))
    with pytest.raises(CPMError, match=r"y_train row 1 is not one-hot \(2 positive entries\)"):
        build_dataset(cfg, "train")
    np.savez(tmp_path / "d.npz", x_train=np.ones((2, 4, 150), np.float32), y_train=np.eye(3)[[0, 1, 2]])
    with pytest.raises(CPMError, match=r"3 labels but 2 samples"):
        build_dataset(cfg, "train")
    (tmp_path / "d.npz").write_bytes(b"garbage")
    with pytest.raises(CPMError, match=r"d.npz: not a readable .npz"):
        build_dataset(cfg, "train")


# ---------------------------------------------------------------- pyskl pickle
def pyskl_file(path, anns, split):
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": anns}, f)


def ann(name, label, kp, total=None):
    return {"frame_dir": name, "label": label, "keypoint": kp, "total_frames": kp.shape[1] if total is None else total}


def test_pyskl_split_transpose_total_frames_and_empty(tmp_path):
    kp = coded(1, 5, m=2)[0].transpose(3, 1, 2, 0)  # (M, T, V, C)
    anns = [ann("a", 2, kp, total=4), ann("b", 5, kp), ann("c", 1, np.zeros((1, 5, 25, 3), np.float32))]
    pyskl_file(tmp_path / "ntu60_3danno.pkl", anns, {"xsub_train": ["a", "c"], "xsub_val": ["b"]})
    cfg = DataConfig(format="pyskl", root=str(tmp_path / "ntu60_3danno.pkl"), normalize=False, train_split="xsub_train",
                     test_split="xsub_val", num_frames=4)
    ds = build_dataset(cfg, "train")
    assert len(ds) == 1 and ds.num_skipped == 1 and ds.names == ["a"] and ds.labels.tolist() == [2]
    np.testing.assert_array_equal(ds[0][0].numpy(), kp[:, :4].transpose(3, 1, 2, 0))  # first total_frames
    test = build_dataset(cfg, "test")
    assert test.labels.tolist() == [5] and test[0][0].shape == (3, 4, 25, 2)  # 5 frames resized to 4


def pyskl_2d(path):
    """An NTU-2D-like pickle in pyskl's exact structure: 2 persons, COCO-17, 640x480 frames, a padded frame."""
    kp = np.zeros((2, 5, 17, 2), np.float32)
    score = np.zeros((2, 5, 17), np.float32)
    kp[0, :4], score[0, :4] = (400.0, 120.0), 0.8  # -> ((400 - 320) / 320, (120 - 240) / 240) = (0.25, -0.5)
    kp[1, :4], score[1, :4] = (160.0, 360.0), 0.6  # -> (-0.5, 0.5)
    kp[1, 0, 3], score[1, 0, 3] = 0.0, 0.0  # an undetected joint: stays (0, 0, 0)
    kp[0, :4, 5] = (480.0, 120.0)  # left shoulder of person 0 -> (0.5, -0.5)
    anns = [{"frame_dir": "S001C001P001R001A001", "label": 0, "img_shape": (480, 640), "original_shape": (480, 640),
             "total_frames": 4, "keypoint": kp, "keypoint_score": score},  # frame 5 is padding past total_frames
            {"frame_dir": "S001C001P002R001A002", "label": 1, "img_shape": (480, 640), "original_shape": (480, 640),
             "total_frames": 5, "keypoint": kp[:1].copy(), "keypoint_score": score[:1].copy()}]
    pyskl_file(path, anns, {"xsub_train": ["S001C001P001R001A001", "S001C001P002R001A002"]})
    return DataConfig(format="pyskl", root=str(path), layout="coco17", channels="xys", train_split="xsub_train",
                      test_split="xsub_val", num_frames=4)


def test_pyskl_2d_keypoints_normalised_by_img_shape_with_score_channel(tmp_path):
    cfg = pyskl_2d(tmp_path / "ntu60_2d.pkl")
    ds = build_dataset(cfg, "train")
    assert ds.labels.tolist() == [0, 1] and ds.channels == "xys"
    x = ds[0][0].numpy()
    assert x.shape == (3, 4, 17, 2)
    np.testing.assert_allclose(x[:, 0, 0, 0], [0.25, -0.5, 0.8])
    np.testing.assert_allclose(x[:, 3, 0, 1], [-0.5, 0.5, 0.6])
    np.testing.assert_array_equal(x[:, 0, 3, 1], [0, 0, 0])  # undetected joint
    assert ds[1][0].shape == (3, 4, 17, 2) and not ds[1][0][..., 1].any()  # one person, zero-padded to 2
    xy = build_dataset(replace(cfg, channels="xy", max_persons=1), "train")[0][0].numpy()
    assert xy.shape == (2, 4, 17, 1)
    np.testing.assert_allclose(xy[:, 0, 0, 0], [0.25, -0.5])
    # normalize: centre x, y on the nose (coco17 centre 0), no rotation, the score untouched
    xn = build_dataset(replace(cfg, normalize=True), "train")[0][0].numpy()
    np.testing.assert_allclose(xn[:, 0, 5, 0], [0.25, 0.0, 0.8], atol=1e-6)
    np.testing.assert_allclose(xn[:, 0, 0, 0], [0.0, 0.0, 0.8], atol=1e-6)
    with pytest.raises(CPMError, match=r"data.channels='xyz': .*ntu60_2d.pkl holds 2-D keypoints with scores"):
        build_dataset(replace(cfg, channels="xyz"), "train")
    with pytest.raises(CPMError, match=r"no split 'xsub_val' \(available: xsub_train\)"):
        build_dataset(cfg, "test")


def test_pyskl_2d_bad_input(tmp_path):
    path = tmp_path / "p.pkl"
    cfg = DataConfig(format="pyskl", root=str(path), layout="coco17", channels="xys", num_frames=4)
    kp = np.ones((1, 4, 17, 2), np.float32)
    pyskl_file(path, [ann("a", 0, kp)], {"train": ["a"]})
    with pytest.raises(CPMError, match=r"annotation 0 \(a\): 2-D keypoints need 'keypoint_score' of shape "
                                       r"\(1, 4, 17\)"):
        build_dataset(cfg, "train")
    pyskl_file(path, [ann("a", 0, kp) | {"keypoint_score": np.ones((1, 4, 17))}], {"train": ["a", "z"]})
    with pytest.raises(CPMError, match=r"split 'train' lists 1 clip\(s\) without an annotation, e.g. 'z'"):
        build_dataset(cfg, "train")
    pyskl_file(path, [ann("a", 0, kp, total=9) | {"keypoint_score": np.ones((1, 4, 17))}], {"train": ["a"]})
    with pytest.raises(CPMError, match=r"total_frames 9 is not in \[0, 4\]"):
        build_dataset(cfg, "train")
    three = ann("b", 0, np.ones((1, 4, 17, 3), np.float32))
    pyskl_file(path, [ann("a", 0, kp) | {"keypoint_score": np.ones((1, 4, 17))}, three], {"train": ["a", "b"]})
    with pytest.raises(CPMError, match="mixes 3-D"):
        build_dataset(cfg, "train")


def test_pyskl_bad_input(tmp_path):
    path = tmp_path / "p.pkl"
    cfg = DataConfig(format="pyskl", root=str(path), num_frames=4, normalize=False)
    with pytest.raises(CPMError, match="pyskl annotation file not found"):
        build_dataset(cfg, "train")
    pyskl_file(path, [], {"xsub_train": []})
    with pytest.raises(CPMError, match=r"no split 'train' \(available: xsub_train\)"):
        build_dataset(cfg, "train")
    bad = coded(1, 4)[0].transpose(3, 1, 2, 0).copy()
    bad[0, 1, 2, 0] = np.inf
    pyskl_file(path, [ann("a", 0, coded(1, 4)[0].transpose(3, 1, 2, 0)), ann("b", 0, bad)], {"train": ["a", "b"]})
    with pytest.raises(CPMError, match=r"p.pkl: sample 1 \(b\) has NaN/inf"):
        build_dataset(cfg, "train")
    pyskl_file(path, [ann("a", 0, np.ones((1, 4, 17, 3), np.float32))], {"train": ["a"]})
    with pytest.raises(CPMError, match=r"annotation 0 \(a\): keypoint has shape \(1, 4, 17, 3\), expected \(M, T, 25"):
        build_dataset(cfg, "train")
    pyskl_file(path, [{"frame_dir": "a", "keypoint": np.ones((1, 4, 25, 3))}], {"train": ["a"]})
    with pytest.raises(CPMError, match="missing key 'label'"):
        build_dataset(cfg, "train")
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(CPMError, match="not a readable pickle"):
        build_dataset(cfg, "train")


# ---------------------------------------------------------------- MSR Action3D
def write_msr(folder, name, frames):
    """frames: (T, 20, 4) written one `x y z c` line per joint, as the release does."""
    lines = [" ".join(f"{v:.6f}" for v in row) for row in frames.reshape(-1, 4)]
    (folder / f"{name}_skeleton3D.txt").write_text("\n".join(lines) + "\n")


def msr_cfg(root, **kw):
    kw.setdefault("normalize", False)
    return DataConfig(format="msr_action3d", root=str(root), layout="kinect_v1", max_persons=1, **kw)


def test_msr_small_files(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 3, (4, 20, 4)).round(6)
    write_msr(tmp_path, "a02_s01_e01", a)
    write_msr(tmp_path, "a05_s02_e03", rng.uniform(-1, 3, (3, 20, 4)))
    write_msr(tmp_path, "a13_s09_e02", np.zeros((5, 20, 4)))  # the known all-zero recording
    train = build_dataset(msr_cfg(tmp_path, num_frames=4), "train")
    assert len(train) == 1 and train.num_skipped == 1 and train.labels.tolist() == [1] and train.num_classes == 20
    np.testing.assert_allclose(train[0][0].numpy()[..., 0], a[..., :3].transpose(2, 0, 1), atol=1e-6)
    test = build_dataset(msr_cfg(tmp_path, num_frames=4), "test")
    assert test.labels.tolist() == [4] and test.names == ["a05_s02_e03"] and test[0][0].shape == (3, 4, 20, 1)


def test_msr_bad_input(tmp_path):
    with pytest.raises(CPMError, match=r"no MSR Action3D files in .*expected aAA_sSS_eEE_skeleton3D.txt"):
        build_dataset(msr_cfg(tmp_path), "train")
    with pytest.raises(CPMError, match="msr_action3d has 20 joints; data.layout must be 'kinect_v1'"):
        build_dataset(DataConfig(format="msr_action3d", root=str(tmp_path)), "train")
    with pytest.raises(CPMError, match="msr_action3d files hold MSR's own joint order, layout 'kinect_v1'"):
        build_dataset(DataConfig(format="msr_action3d", root=str(tmp_path), layout="kinect_sdk"), "train")
    (tmp_path / "a01_s01_e01_skeleton3D.txt").write_text("0.1 0.2 0.3 1\n" * 19)
    with pytest.raises(CPMError, match=r"a01_s01_e01_skeleton3D.txt: 76 values, expected a multiple of 80"):
        build_dataset(msr_cfg(tmp_path), "train")
    (tmp_path / "a01_s01_e01_skeleton3D.txt").write_text("0.1 0.2 abc 1\n" * 20)
    with pytest.raises(CPMError, match=r"a01_s01_e01_skeleton3D.txt: non-numeric value"):
        build_dataset(msr_cfg(tmp_path), "train")
    (tmp_path / "a01_s01_e01_skeleton3D.txt").write_text("0.1 0.2 nan 1\n" * 20)
    with pytest.raises(CPMError, match=r"sample 0 \(a01_s01_e01\) has NaN/inf"):
        build_dataset(msr_cfg(tmp_path), "train")


@pytest.mark.skipif(not (SHARED / "msr_action3d").is_dir(), reason="../shared/data/msr_action3d is absent")
def test_msr_real_recordings():
    cfg = msr_cfg(SHARED / "msr_action3d", num_frames=50)
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    # 292 odd-subject files minus the all-zero a13_s09_e02; 275 even-subject files (SOURCE.md: 291 / 275)
    assert (len(train), train.num_skipped, len(test), test.num_skipped) == (291, 1, 275, 0)
    assert "a13_s09_e02" not in train.names and train.num_classes == 20
    assert sorted(set(train.labels.tolist())) == list(range(20)) == sorted(set(test.labels.tolist()))
    i = train.names.index("a01_s01_e01")
    raw = np.loadtxt(SHARED / "msr_action3d" / "skeleton3D" / "a01_s01_e01_skeleton3D.txt").reshape(-1, 20, 4)
    assert raw.shape[0] == 54
    ref = torch.nn.functional.interpolate(torch.tensor(raw[..., :3].transpose(2, 1, 0)), size=50, mode="linear")
    x = train[i][0].numpy()
    assert x.shape == (3, 50, 20, 1)
    np.testing.assert_allclose(x[..., 0], ref.numpy().transpose(0, 2, 1), atol=1e-5)
    assert x[1, 0, 19, 0] > x[1, 0, 2, 0]  # the head (joint 20) is above the shoulder centre (joint 3)


def test_pyskl_split_naming_no_annotation_names_the_split(tmp_path):
    path = tmp_path / "p.pkl"
    pyskl_file(path, [ann("a", 0, np.ones((1, 4, 25, 3), np.float32))], {"train": ["S001_x", "S002_y"]})
    with pytest.raises(CPMError, match=r"p.pkl: split 'train' lists 2 clip\(s\) without an annotation, e.g. 'S001_x'"):
        build_dataset(DataConfig(format="pyskl", root=str(path), num_frames=4), "train")
