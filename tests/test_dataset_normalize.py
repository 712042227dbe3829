"""data.normalize: per-clip centring and shoulder alignment at load."""
import numpy as np

from cpm.data.normalize import normalize_view
from cpm.graph import get_layout


def test_centre_and_shoulders_hand_case():
    lay = get_layout("ntu")
    x = np.zeros((3, 2, 25, 2), dtype=np.float32)  # person 1 absent
    centre = np.array([1.0, 2.0, 3.0])
    x[:, :, :, 0] = centre[:, None, None]
    # shoulders along z (yaw of 90 degrees): left at centre - 0.2 z, right at centre + 0.2 z
    x[:, :, 4, 0] = (centre + [0, 0, -0.2])[:, None]
    x[:, :, 8, 0] = (centre + [0, 0, 0.2])[:, None]
    x[:, 1, 3, 0] = centre + [0, 0.5, 0.0]  # head above the centre in frame 1
    out = normalize_view(x, lay)
    np.testing.assert_allclose(out[:, :, 20, 0], 0, atol=1e-6)  # centre joint at the origin
    np.testing.assert_allclose(out[:, 0, 8, 0] - out[:, 0, 4, 0], [0.4, 0, 0], atol=1e-6)  # shoulders along +x
    np.testing.assert_allclose(out[:, 1, 3, 0], [0, 0.5, 0], atol=1e-6)  # rotation about y keeps height
    assert (out[..., 1] == 0).all()  # absent person stays zero


def test_kinect_layout_knows_its_shoulders():
    assert get_layout("kinect_v1").shoulders == (0, 1) and get_layout("ntu").shoulders == (4, 8)


def test_auto_normalize_centres_camera_coordinates_only(capsys):
    """data.normalize=auto: camera-space clips (body 2.6 m away) are centred at load with a note; clips that
    are already centred, and data.normalize=false, are left as they are."""
    import numpy as np

    from cpm.data.dataset import body_geometry, build_dataset
    from cpm.data.readers import Samples
    from cpm.graph import get_layout

    rng = np.random.default_rng(0)
    body = rng.normal(scale=0.2, size=(3, 8, 25, 1)).astype(np.float32)
    camera = body + np.array([0.3, 0.1, 2.6], dtype=np.float32)[:, None, None, None]
    layout = get_layout("ntu")
    centred = body - body[:, :, layout.center: layout.center + 1]
    assert body_geometry(Samples([centred] * 3, np.zeros(3, dtype=np.int64), "c"), layout)[0] == 0.0
    assert body_geometry(Samples([camera] * 3, np.zeros(3, dtype=np.int64), "c"), layout)[0] > 5.0
    from cpm.config import DataConfig

    cfg = DataConfig(num_frames=8, max_persons=1, normalize="auto")
    cfg.synthetic.num_train, cfg.synthetic.num_test = 24, 12  # synthetic clips are camera coordinates
    x = build_dataset(cfg, "train")[0][0].numpy()
    assert "not centred" in capsys.readouterr().out
    assert np.abs(x[:, :, layout.center]).max() < 1e-6  # centre joint at the origin in every frame
    cfg.normalize = False
    raw = build_dataset(cfg, "train")[0][0].numpy()
    assert np.abs(raw[:, :, layout.center]).mean() > 1.0 and "not centred" not in capsys.readouterr().out


def test_start_centre_and_clip_rotation_keep_travel_and_turns():
    """normalize_center=start subtracts the centre joint of the person's first present frame for the whole clip;
    normalize_rotation=clip turns the clip once, by its mean shoulder line, so a turn within the clip survives."""
    lay = get_layout("ntu")
    x = np.zeros((3, 3, 25, 1), dtype=np.float32)
    path = np.array([[1.0, 0.0, 3.0], [1.5, 0.0, 3.0], [2.0, 0.0, 3.0]])  # the body walks 1 m along x
    x[:, :, :, 0] = path.T[:, :, None]
    # shoulders: along z in frames 0 and 2 (yaw 90 degrees), along x in frame 1
    x[:, 0, 4, 0], x[:, 0, 8, 0] = path[0] + [0, 0, -0.2], path[0] + [0, 0, 0.2]
    x[:, 1, 4, 0], x[:, 1, 8, 0] = path[1] + [-0.2, 0, 0], path[1] + [0.2, 0, 0]
    x[:, 2, 4, 0], x[:, 2, 8, 0] = path[2] + [0, 0, -0.2], path[2] + [0, 0, 0.2]
    out = normalize_view(x, lay, center="start", rotation="none")
    np.testing.assert_allclose(out[:, :, 20, 0].T, [[0, 0, 0], [0.5, 0, 0], [1.0, 0, 0]], atol=1e-6)
    # shoulder lines summed over frames (0.4, 0, 0.8): one rotation about y, cos 0.4 / a, sin 0.8 / a, for all
    out = normalize_view(x, lay, center="frame", rotation="clip")
    a = np.hypot(0.4, 0.8)
    np.testing.assert_allclose(out[:, 0, 8, 0] - out[:, 0, 4, 0], [0.8 / a * 0.4, 0, 0.4 / a * 0.4], atol=1e-6)
    np.testing.assert_allclose(out[:, 1, 8, 0] - out[:, 1, 4, 0], [0.4 / a * 0.4, 0, -0.8 / a * 0.4], atol=1e-6)
    mean = sum(out[:, t, 8, 0] - out[:, t, 4, 0] for t in range(3))
    np.testing.assert_allclose(mean[2], 0, atol=1e-6)  # the mean shoulder line now lies along +x
    assert mean[0] > 0
    np.testing.assert_allclose(out[:, :, 20, 0], 0, atol=1e-6)
    frame = normalize_view(x, lay)  # per frame: every frame's shoulders along x, the turn erased
    np.testing.assert_allclose(frame[2, :, 8, 0] - frame[2, :, 4, 0], 0, atol=1e-6)


def test_start_centre_uses_each_persons_first_present_frame():
    lay = get_layout("ntu")
    x = np.zeros((3, 3, 25, 2), dtype=np.float32)
    x[:, :, :, 0] = 1.0
    x[:, 1:, :, 1] = np.array([2.0, 0.0, 0.0])[:, None, None]  # person 1 appears in frame 1
    x[0, 2, :, 1] = 3.0
    out = normalize_view(x, lay, center="start", rotation="none")
    assert (out[:, :, :, 0] == 0).all() and (out[:, 0, :, 1] == 0).all()  # absent frame stays zero
    np.testing.assert_allclose(out[0, 1:, 0, 1], [0.0, 1.0])


def test_unknown_modes_are_refused():
    import pytest

    with pytest.raises(ValueError, match="center in"):
        normalize_view(np.zeros((3, 2, 25, 1), dtype=np.float32), get_layout("ntu"), rotation="twist")


def test_body_geometry_hand_case():
    """Centre joint at (0, 0, 3), the 24 others 0.5 from it: extent (24 x 0.5 + 0) / 25 = 0.48, ratio 3 / 0.48;
    only the first `dims` channels count (a keypoint score is no coordinate)."""
    from cpm.data.dataset import body_geometry
    from cpm.data.readers import Samples

    lay = get_layout("ntu")
    x = np.zeros((3, 4, 25, 1), dtype=np.float32)
    x[2] = 3.0
    x[0, :, [j for j in range(25) if j != lay.center]] = 0.5
    samples = Samples([x] * 2, np.zeros(2, dtype=np.int64), "c")
    np.testing.assert_allclose(body_geometry(samples, lay), (3 / 0.48, 0.48), rtol=1e-6)
    np.testing.assert_allclose(body_geometry(samples, lay, dims=2)[1], 0.48, rtol=1e-6)
    x[2] = 100.0  # a score channel: ignored with dims=2
    np.testing.assert_allclose(body_geometry(samples, lay, dims=2), (0.0, 0.48), rtol=1e-6)


def test_length_augments_in_other_units_get_a_note(tmp_path, capsys):
    """posture_jitter / noise_std are lengths: set for metres, they do nothing on millimetres. A note names the key,
    the body's extent and the value that keeps the configs' share (0.08 / 0.64 of the extent)."""
    from cpm.config import DataConfig
    from cpm.data.dataset import build_dataset, units_note

    cfg = DataConfig(format="arrays", root=str(tmp_path), num_frames=8, max_persons=1, normalize=False)
    cfg.augment.posture_jitter = 0.08
    assert units_note(cfg.augment, 0.6, "x") == ""  # metres
    note = units_note(cfg.augment, 600.0, "x")  # millimetres: 0.013 % of the body
    assert "data.augment.posture_jitter=0.08" in note and "600 units" in note and "posture_jitter=75" in note
    assert "posture_jitter=0.008" in units_note(cfg.augment, 0.064, "x")  # 125 % of the body: too large
    cfg.augment.posture_jitter, cfg.augment.noise_std = 0.0, 0.01
    assert "noise_std=0.01" in units_note(cfg.augment, 600.0, "x")
    cfg.augment.noise_std = 0.0
    assert units_note(cfg.augment, 600.0, "x") == ""  # nothing in absolute units: nothing to say

    rng = np.random.default_rng(0)
    data = (rng.normal(scale=0.3, size=(4, 3, 8, 25, 1)) * 1000).astype(np.float32)  # bodies in millimetres
    np.save(tmp_path / "train_data.npy", data)
    np.save(tmp_path / "train_label.npy", np.arange(4))
    cfg.augment.posture_jitter = 0.08
    build_dataset(cfg, "train")
    assert "data.augment.posture_jitter=0.08 is a length" in capsys.readouterr().out
    np.save(tmp_path / "train_data.npy", data / 1000)  # metres: no note
    build_dataset(cfg, "train")
    assert "is a length" not in capsys.readouterr().out


def test_custom_layout_shoulders_turn_the_clip(capsys):
    """data.layout_shoulders gives a custom layout the shoulders that normalisation turns onto +x; without them the
    clips are only centred, with a note; a bad pair is a one-line error."""
    import pytest

    from cpm.config import DataConfig
    from cpm.errors import CPMError
    from cpm.graph import layout_of

    # chain: 0 hip (centre), 1 neck, 2 left shoulder, 3 right shoulder, both shoulders children of the neck
    cfg = DataConfig(layout="custom", layout_num_joints=4, layout_edges=[[1, 0], [2, 1], [3, 1]], layout_center=0)
    assert layout_of(cfg).shoulders is None
    cfg.layout_shoulders = [2, 3]
    lay = layout_of(cfg)
    assert lay.shoulders == (2, 3)
    x = np.zeros((3, 1, 4, 1), dtype=np.float32)
    x[:, 0, :, 0] = np.array([[1, 0, 3], [1, 0.5, 3], [1, 0.5, 2.8], [1, 0.5, 3.2]]).T  # shoulders along z
    out = normalize_view(x, lay)
    np.testing.assert_allclose(out[:, 0, 3, 0] - out[:, 0, 2, 0], [0.4, 0, 0], atol=1e-6)
    for bad in ([2, 2], [2, 9], [2], ["l", "r"]):
        cfg.layout_shoulders = bad
        with pytest.raises(CPMError, match="shoulders"):
            layout_of(cfg)


def test_note_when_normalising_without_shoulders(tmp_path, capsys):
    from cpm.config import DataConfig
    from cpm.data.dataset import build_dataset

    rng = np.random.default_rng(0)
    np.save(tmp_path / "train_data.npy", rng.normal(scale=0.3, size=(4, 3, 8, 4, 1)).astype(np.float32))
    np.save(tmp_path / "train_label.npy", np.arange(4))
    cfg = DataConfig(format="arrays", root=str(tmp_path), num_frames=8, max_persons=1, normalize=True,
                     layout="custom", layout_num_joints=4, layout_edges=[[1, 0], [2, 1], [3, 1]], layout_center=0)
    build_dataset(cfg, "train")
    assert "names no shoulders" in capsys.readouterr().out
    cfg.layout_shoulders = [2, 3]
    build_dataset(cfg, "train")
    assert "names no shoulders" not in capsys.readouterr().out


def test_layout_shoulders_only_for_custom_layouts():
    import pytest

    from cpm.config import load_config
    from cpm.errors import CPMError

    with pytest.raises(CPMError, match="layout_shoulders': only for layout 'custom'"):
        load_config("configs/demo.yaml", ["data.layout_shoulders=[4,8]"])
