"""NTU raw `.skeleton` parsing, body selection, the frame50 normalisation and the prepare_ntu pipeline."""
import pickle

import numpy as np
import pytest
import torch

from cpm.data.normalize import align_shoulders, normalize_sequence, resize_frames, valid_length
from cpm.prepare.ntu_fake import random_sequence, skeleton_text, write_skeleton
from cpm.prepare.ntu import main, prepare_ntu
from cpm.prepare.ntu_raw import (is_training, motion_energy, official_missing, parse_name, read_name_list,
                              read_skeleton, select_bodies)
from cpm.prepare.common import Task, write_split
from cpm.errors import CPMError

REAL = {"S001C001P001R001A001": 103, "S001C001P001R001A011": 82, "S001C003P008R002A058": 70,
        "S002C001P003R001A003": 100, "S003C001P015R001A034": 71, "S004C002P003R001A017": 124}


def test_real_files_parse_and_match_official_txt2npy(shared_data):
    root = shared_data / "ntu_rgbd_skeleton_raw"
    for name, frames in REAL.items():
        raw = read_skeleton(root / f"{name}.skeleton")
        assert raw.num_frames == frames and raw.name == name
        assert len(raw.body_ids) == (2 if name.endswith("A058") else 1)
        data = select_bodies(raw)
        assert data.shape == (3, frames, 25, 2)
        assert (np.abs(data[..., 1]).sum() > 0) == name.endswith("A058")
    dump = np.load(root / "txt2npy" / "S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()
    raw = read_skeleton(root / "S001C001P001R001A001.skeleton")
    assert np.abs(raw.xyz[0] - dump["skel_body0"]).max() == 0.0
    assert raw.bodies_per_frame.tolist() == list(dump["nbodys"])


def test_names_and_official_splits():
    s = parse_name("some/dir/S017C003P045R002A060.skeleton")
    assert (s.setup, s.camera, s.performer, s.replication, s.action, s.label) == (17, 3, 45, 2, 60, 59)
    assert not is_training(s, "xsub") and is_training(s, "xsub120")
    assert is_training(s, "xview") and not is_training(parse_name("S001C001P001R001A001"), "xview")
    assert is_training(parse_name("S002C001P003R001A001"), "xset120")
    assert not is_training(parse_name("S003C001P001R001A001"), "xset120")
    with pytest.raises(CPMError, match="SsssCcccPpppRrrrAaaa"):
        parse_name("S01C001P001R001A001.skeleton")
    m60, m120 = official_missing(60), official_missing(120)
    assert len(m60) == 302 and len(m120) == 535 and m60 <= m120
    assert "S001C002P005R002A008" in m60 and "S032C003P067R002A077" in m120 - m60


def test_motion_energy_and_body_selection(tmp_path):
    base = np.zeros((25, 3))
    still = [("1", base + 1.0)] * 4  # energy 0
    moving = [("2", base + t) for t in (0.0, 1.0)]  # 2 frames at 0 and 1: var 0.25 per coordinate
    wild = [("3", base + t) for t in (0.0, 4.0)]  # var 4 per coordinate
    frames = [[still[0], moving[0]], [], [still[1], moving[1], wild[0]], [still[2], wild[1]], [still[3]]]
    raw = read_skeleton(write_skeleton(tmp_path / "S001C001P001R001A050.skeleton", frames))
    assert raw.body_ids == ("1", "2", "3") and raw.bodies_per_frame.tolist() == [2, 0, 3, 2, 1]
    np.testing.assert_allclose(motion_energy(raw), [0.0, 75 * 0.25, 75 * 4.0])
    data = select_bodies(raw, rule="energy")  # keeps bodies 3 (slot 0) and 2 (slot 1); frames without them dropped
    assert data.shape == (3, 3, 25, 2)
    np.testing.assert_array_equal(data[0, :, 0, 0], [0.0, 0.0, 4.0])
    np.testing.assert_array_equal(data[0, :, 0, 1], [0.0, 1.0, 0.0])
    # lineage: the first two bodies listed in each frame, every frame kept (the third body of frame 2 is lost)
    assert raw.listed.tolist() == [[0, 1, -1], [-1, -1, -1], [0, 1, 2], [0, 2, -1], [0, -1, -1]]
    data = select_bodies(raw)
    assert data.shape == (3, 5, 25, 2)
    np.testing.assert_array_equal(data[0, :, 0, 0], [1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(data[0, :, 0, 1], [0.0, 0.0, 1.0, 4.0, 0.0])
    empty = read_skeleton(write_skeleton(tmp_path / "S001C001P001R001A002.skeleton", [[], [], []]))
    assert empty.num_frames == 3 and select_bodies(empty) is None and select_bodies(empty, rule="energy") is None
    zeros = read_skeleton(write_skeleton(tmp_path / "S001C001P001R001A003.skeleton", [[("7", base)]] * 2))
    assert select_bodies(zeros) is None and select_bodies(zeros, rule="energy") is None
    with pytest.raises(CPMError, match="--bodies 'first'"):
        select_bodies(raw, rule="first")


def _lines(rng, frames=3):
    return skeleton_text(random_sequence(rng, frames)).split("\r\n")


@pytest.mark.parametrize("case", ["truncated", "non_numeric", "nan", "short_joint", "joint_count", "trailing"])
def test_corrupt_files_name_file_and_line(tmp_path, case):
    lines = _lines(np.random.default_rng(0))  # frame 1 body info is line 3, its joints lines 5..29
    expect = None
    if case == "truncated":
        lines = lines[:40]
        expect = "file ends at line 40"
    elif case == "non_numeric":
        lines[9] = lines[9].replace(lines[9].split()[1], "abc")
        expect = "line 10:"
    elif case == "nan":
        lines[40] = "nan " + " ".join(lines[40].split()[1:])
        expect = "line 41:"
    elif case == "short_joint":
        lines[5] = " ".join(lines[5].split()[:11])
        expect = "line 6:"
    elif case == "joint_count":
        lines[3] = "24"
        expect = "line 4: expected 25 joints, found 24"
    elif case == "trailing":
        lines.append("1")
        expect = "unexpected content after the 3 declared frames"
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(CPMError, match=expect) as err:
        read_skeleton(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_resize_matches_linear_interpolation():
    x = np.array([[10.0, 20.0]])[:, :, None, None]  # (C=1, T=2, 1, 1)
    np.testing.assert_allclose(resize_frames(x, 4)[0, :, 0, 0], [10.0, 12.5, 17.5, 20.0])
    y = np.random.default_rng(0).normal(size=(3, 37, 25, 2))
    ref = torch.nn.functional.interpolate(torch.from_numpy(y).permute(0, 2, 3, 1).reshape(1, -1, 37), size=50,
                                          mode="linear", align_corners=False)
    np.testing.assert_allclose(resize_frames(y, 50), ref.reshape(3, 25, 2, 50).permute(0, 3, 1, 2).numpy(),
                               atol=1e-12)


def test_normalisation_on_hand_made_skeleton():
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(25, 3))
    pose[4], pose[8] = [-0.2, 0.3, 0.0], [0.2, 0.3, 0.0]  # shoulders 0.4 apart along x
    frames = []
    for t, theta in enumerate(np.linspace(-2.5, 2.5, 20)):  # yaw angles of both signs, beyond +-90 degrees
        c, s = np.cos(theta), np.sin(theta)
        ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        frames.append(pose @ ry.T + [1.0 + t, 0.5, 3.0])
    data = np.zeros((3, 300, 25, 2))
    data[:, :20, :, 0] = np.stack(frames).transpose(2, 0, 1)
    assert valid_length(data) == 20
    out = normalize_sequence(data, num_frames=20)
    assert out.shape == (3, 20, 25, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 20, 0], 0.0, atol=1e-6)  # spine (1-based 21) at the origin
    shoulder = out[:, :, 8, 0] - out[:, :, 4, 0]
    np.testing.assert_allclose(shoulder, np.array([[0.4], [0.0], [0.0]]).repeat(20, 1), atol=1e-6)
    expected = pose - pose[20]  # every frame back in the canonical orientation
    np.testing.assert_allclose(out[..., 0].transpose(1, 2, 0), np.broadcast_to(expected, (20, 25, 3)), atol=1e-5)
    assert np.all(out[..., 1] == 0)
    np.testing.assert_array_equal(align_shoulders(np.zeros((3, 4, 25, 1))), 0.0)


def _lineage_y_rotation(person):
    """CrosSCLR `parallel_skeleton` for one person (3, T, V), rewritten: one angle sign for the whole sequence."""
    vec = person[:, :, 8] - person[:, :, 4]
    vec[1] = 0
    theta = np.arccos(vec[0] / (np.sqrt((vec ** 2).sum(0)) + 0.0001))
    theta = -theta if vec[2].sum() >= 0 else theta
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = person
    return np.stack([c[:, None] * x - s[:, None] * z, y, s[:, None] * x + c[:, None] * z])


def test_alignment_matches_lineage_on_real_file(shared_data):
    data = select_bodies(read_skeleton(shared_data / "ntu_rgbd_skeleton_raw" / "S002C001P003R001A003.skeleton"))
    x = resize_frames(data - data[:, :, 20:21], 50)
    v = x[:, :, 8, 0] - x[:, :, 4, 0]
    assert np.all(np.sign(v[2]) == np.sign(v[2].sum()))  # one sign in every frame: both rules agree
    np.testing.assert_allclose(align_shoulders(x)[..., 0], _lineage_y_rotation(x[..., 0]), atol=2e-3)
    np.testing.assert_allclose(normalize_sequence(data), align_shoulders(x), atol=1e-6)


def _tree(root, rng):
    """A generated raw tree in the exact format: good, missing-listed, zero-body, corrupt and foreign files."""
    good = {"S001C001P001R001A001": 1, "S001C002P003R001A002": 1, "S002C003P002R002A055": 2}
    for name, bodies in good.items():
        write_skeleton(root / f"{name}.skeleton", random_sequence(rng, int(rng.integers(30, 60)), bodies))
    write_skeleton(root / "S001C002P005R002A008.skeleton", random_sequence(rng, 20))  # official missing list
    write_skeleton(root / "S003C001P007R001A010.skeleton", [[]] * 15)  # zero bodies in every frame
    lines = _lines(rng, 10)
    (root / "sub").mkdir()
    (root / "sub" / "S001C001P004R001A020.skeleton").write_bytes("\r\n".join(lines[:100]).encode())
    lines[33] = lines[33] + " x"
    (root / "S001C001P006R001A021.skeleton").write_bytes("\r\n".join(lines).encode())
    write_skeleton(root / "S018C001P045R001A061.skeleton", random_sequence(rng, 10))  # NTU-120 only
    write_skeleton(root / "notes.skeleton", random_sequence(rng, 10))
    return good


def test_prepare_ntu_end_to_end(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    _tree(raw, np.random.default_rng(1))
    code = main(["--raw", str(raw), "--out", str(out), "--benchmark", "xsub", "--frames", "16", "--workers", "1",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "S001C001P004R001A020.skeleton: file ends at line 100" in err
    assert "S001C001P006R001A021.skeleton: line 34:" in err
    assert "listed with missing skeletons: 1" in err and "val: 1 samples written, 1 empty" in err
    assert "ignored 1 files whose name" in err and "ignored 1 files of setups 18..32" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}_{k}" for s in ("train", "val") for k in ("data.npy", "position.npy", "label.pkl"))
    names, labels = pickle.load(open(out / "train_label.pkl", "rb"))
    assert names == ["S001C001P001R001A001.skeleton", "S002C003P002R002A055.skeleton"] and labels == [0, 54]
    assert pickle.load(open(out / "val_label.pkl", "rb")) == (["S001C002P003R001A002.skeleton"], [1])
    data = np.load(out / "train_data.npy", mmap_mode="r")
    pos = np.load(out / "train_position.npy", mmap_mode="r")
    assert data.shape == (2, 3, 300, 25, 2) and pos.shape == (2, 3, 16, 25, 2) and data.dtype == np.float32
    ref = select_bodies(read_skeleton(raw / "S002C003P002R002A055.skeleton"))
    t = ref.shape[1]
    np.testing.assert_array_equal(data[1, :, :t], ref)
    assert np.all(data[1, :, t:] == 0) and np.all(ref[..., 1].any(axis=(0, 2)))
    np.testing.assert_allclose(pos[1], normalize_sequence(ref, 16, rotation="clip"), atol=1e-6)
    report = prepare_ntu(raw, tmp_path / "out2", "xsub", frames=16, workers=2, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "out2" / "train_data.npy"), data)
    assert len(report.skipped_listed) == 1 and sum(len(r.errors) for r in report.splits) == 2


def test_ignore_list_replaces_official_list(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(2)
    for name in ("S001C002P005R002A008", "S001C001P001R001A003"):
        write_skeleton(raw / f"{name}.skeleton", random_sequence(rng, 12))
    ignore = tmp_path / "ignore.txt"
    ignore.write_text("header line, not a name\nS001C001P001R001A003.skeleton\n")
    assert read_name_list(ignore) == {"S001C001P001R001A003"}
    report = prepare_ntu(raw, tmp_path / "out", "xview", workers=1, ignore_list=ignore, progress=False)
    assert report.skipped_listed == ["S001C001P001R001A003"]
    assert pickle.load(open(tmp_path / "out" / "train_label.pkl", "rb"))[0] == ["S001C002P005R002A008.skeleton"]
    with pytest.raises(CPMError, match="no \\*.skeleton files"):
        prepare_ntu(tmp_path / "out", tmp_path / "o3", "xsub")


def test_interrupted_split_leaves_nothing(tmp_path):
    def boom(task):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_split(tmp_path, "train", [Task("a", ("a",), (0,))], boom, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_longer_than_max_frames_is_resampled(tmp_path):
    a = np.random.default_rng(0).normal(size=(3, 80, 25, 2)).astype(np.float32)
    report = write_split(tmp_path, "train", [Task("a", ("a", "b"), (3, 4))], lambda task: [a, None],
                         num_frames=10, max_frames=50, progress=False)
    assert (report.written, report.resized, report.empty) == (1, 1, ["b"])
    np.testing.assert_allclose(np.load(tmp_path / "train_data.npy")[0], resize_frames(a, 50), atol=1e-6)
    assert pickle.load(open(tmp_path / "train_label.pkl", "rb")) == (["a"], [3])


def _read_xyz_reference(path, max_body=2):
    """The lineage's body rule written out plainly (st-gcn tools/utils/ntu_read_skeleton.py `read_xyz`): slot m of
    frame n = the m-th body listed in frame n; every frame kept."""
    lines = iter(open(path, encoding="latin-1").read().split())
    frames = int(next(lines))
    data = np.zeros((3, frames, 25, max_body))
    for n in range(frames):
        for m in range(int(next(lines))):
            [next(lines) for _ in range(10)]  # body info
            for j in range(int(next(lines))):
                fields = [float(next(lines)) for _ in range(12)]
                if m < max_body:
                    data[:, n, j, m] = fields[:3]
    return data


def test_lineage_bodies_match_the_official_parsers_on_genuine_files(shared_data):
    root = shared_data / "ntu_rgbd_skeleton_raw"
    for name in REAL:
        raw = read_skeleton(root / f"{name}.skeleton")
        lineage = select_bodies(raw, rule="lineage")
        np.testing.assert_array_equal(lineage, _read_xyz_reference(root / f"{name}.skeleton").astype(np.float32))
        # these six files have no extra or missing bodies (SOURCE.md): both rules agree on them
        np.testing.assert_array_equal(select_bodies(raw, rule="energy"), lineage)
    dump = np.load(root / "txt2npy" / "S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()
    lineage = select_bodies(read_skeleton(root / "S001C001P001R001A001.skeleton"))
    np.testing.assert_allclose(lineage[..., 0].transpose(1, 2, 0), dump["skel_body0"], rtol=0, atol=3e-7)  # float32
    assert np.all(lineage[..., 1] == 0) and "skel_body1" not in dump


def test_clip_rotation_is_the_lineage_and_frame_rotation_differs_where_the_sign_flips(shared_data):
    root = shared_data / "ntu_rgbd_skeleton_raw"
    diff = {}
    for name in REAL:
        data = select_bodies(read_skeleton(root / f"{name}.skeleton"))
        x = resize_frames(data - data[:, :, 20:21], 50)
        clip = normalize_sequence(data, rotation="clip")
        for m in range(2):  # the lineage rotates each person with its own angles
            np.testing.assert_allclose(clip[..., m], _lineage_y_rotation(x[..., m]), atol=1e-5)
        diff[name] = np.abs(clip - normalize_sequence(data, rotation="frame")).max()
    # S004C002P003R001A017 (take off a shoe): the shoulder direction's z sign flips inside the clip, so the
    # clip rule turns those frames the wrong way; elsewhere the rules differ only by the lineage's +1e-4
    assert 0.2 < diff.pop("S004C002P003R001A017") < 0.3
    assert max(diff.values()) < 3e-3
    with pytest.raises(ValueError, match="rotation"):
        align_shoulders(x, rotation="sum")


def test_prepare_ntu_bodies_and_rotation_options_on_genuine_files(shared_data, tmp_path, capsys):
    raw = shared_data / "ntu_rgbd_skeleton_raw"
    args = ["--raw", str(raw), "--benchmark", "xsub", "--workers", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "lineage")]) == 0  # defaults: --bodies lineage --rotation clip
    assert main([*args, "--out", str(tmp_path / "ours"), "--bodies", "energy", "--rotation", "frame"]) == 0
    # performer 3 is not a cross-subject training subject: S002C001P003* and S004C002P003* are in val
    assert "train: 4 samples written" in capsys.readouterr().out
    names, labels = pickle.load(open(tmp_path / "lineage" / "val_label.pkl", "rb"))
    assert names == ["S002C001P003R001A003.skeleton", "S004C002P003R001A017.skeleton"] and labels == [2, 16]
    for split in ("train", "val"):  # same bodies on these files
        np.testing.assert_array_equal(np.load(tmp_path / "lineage" / f"{split}_data.npy"),
                                      np.load(tmp_path / "ours" / f"{split}_data.npy"))
    pos = {k: np.load(tmp_path / k / "val_position.npy")[1] for k in ("lineage", "ours")}
    data = select_bodies(read_skeleton(raw / "S004C002P003R001A017.skeleton"))
    np.testing.assert_allclose(pos["lineage"], normalize_sequence(data, rotation="clip"), atol=1e-6)
    np.testing.assert_allclose(pos["ours"], normalize_sequence(data, rotation="frame"), atol=1e-6)
    assert np.abs(pos["lineage"] - pos["ours"]).max() > 0.2
    with pytest.raises(SystemExit):  # argparse refuses an unknown rule
        main([*args, "--out", str(tmp_path / "x"), "--bodies", "first"])
    with pytest.raises(CPMError, match="--rotation 'sum'"):
        prepare_ntu(raw, tmp_path / "x", "xsub", rotation="sum")


def test_interrupted_rerun_keeps_the_finished_output(tmp_path, monkeypatch):
    import hashlib
    from pathlib import Path

    from cpm.prepare import ntu as ntu_prepare
    from cpm.prepare.ntu_raw import load_ntu_sample

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    _tree(raw, np.random.default_rng(1))
    prepare_ntu(raw, out, "xsub", frames=16, workers=1, progress=False)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    def killed_in_val(task):
        if not is_training(parse_name(Path(task.source).name), "xsub"):  # train is done: it used to be in place
            raise KeyboardInterrupt
        return [load_ntu_sample(task.source)]

    monkeypatch.setattr(ntu_prepare, "_load_task", killed_in_val)
    with pytest.raises(KeyboardInterrupt):
        prepare_ntu(raw, out, "xsub", frames=16, workers=1, progress=False)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()} == before
