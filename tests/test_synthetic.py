import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cpm.config import DataConfig, SyntheticConfig
from cpm.data import build_dataset
from cpm.data.motions import CLASS_NAMES
from cpm.data.synthetic import generate
from cpm.errors import CPMError


def small(**kw):
    return SyntheticConfig(**({"num_train": 240, "num_test": 120} | kw))


def test_shapes_balanced_labels_and_disjoint_subjects():
    cfg = small(num_classes=12)
    x, y, who = generate(cfg, "train", 50)
    assert x.shape == (240, 3, 50, 25, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [20] * 12  # 240 / 12 per class
    xt, yt, who_t = generate(cfg, "test", 50)
    assert xt.shape == (120, 3, 50, 25, 2) and np.bincount(yt).tolist() == [10] * 12
    assert set(who) <= set(range(12)) and set(who_t) <= set(range(12, 20))  # 60 % of 20 subjects train
    assert np.isfinite(x).all() and len(CLASS_NAMES) >= 10


def test_deterministic_from_the_seed():
    a, ya, _ = generate(small(seed=3), "train", 20)
    b, yb, _ = generate(small(seed=3), "train", 20)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    c, _, _ = generate(small(seed=4), "train", 20)
    assert np.abs(a - c).mean() > 0.05


def test_rigid_bodies_of_varied_size_without_noise():
    x, _, who = generate(small(noise=0.0, second_person_prob=0.0), "train", 30)
    forearm = np.linalg.norm(x[:, :, :, 10, 0] - x[:, :, :, 9, 0], axis=1)  # right elbow -> wrist, (N, T)
    assert forearm.std(axis=1).max() < 1e-4  # constant within a clip
    # 0.25 m scaled by size U(0.85, 1.15) and arm proportion U(0.92, 1.08), per subject
    assert 0.25 * 0.85 * 0.92 <= forearm.min() and forearm.max() <= 0.25 * 1.15 * 1.08
    same = forearm[who == who[0], 0]
    np.testing.assert_allclose(same, same[0], rtol=1e-5)
    assert forearm[:, 0].std() > 0.01  # subjects differ
    np.testing.assert_array_equal(x[..., 1], 0)


def test_view_rotation_and_second_person():
    front, _, _ = generate(small(view_range=0.0), "train", 10)
    shoulders = front[:, :, 0, 8, 0] - front[:, :, 0, 4, 0]  # right - left shoulder, first frame
    yaw = np.degrees(np.arctan2(-shoulders[:, 2], shoulders[:, 0]))
    assert np.abs(yaw).max() < 12  # facing the camera: only the idle twist of the trunk
    x, _, _ = generate(small(view_range=60.0, num_train=600), "train", 10)
    shoulders = x[:, :, 0, 8, 0] - x[:, :, 0, 4, 0]
    yaw = np.degrees(np.arctan2(-shoulders[:, 2], shoulders[:, 0]))
    assert 28 < yaw.std() < 42 and np.abs(yaw).max() < 70  # ~ U(-60, 60): std 34.6
    second = (x[..., 1] != 0).any(axis=(1, 2, 3))
    assert 0.10 < second.mean() < 0.20  # second_person_prob = 0.15
    assert (x[second, ..., 1] != 0).all(axis=(1, 3)).all()  # a present person has every joint in every frame


def test_classes_differ_in_motion_not_in_pose():
    """Frame 0 (before every action starts) carries no label; per-joint motion energy does."""
    cfg = SyntheticConfig(num_train=600, num_test=300, seed=1)
    (xtr, ytr, _), (xte, yte, _) = generate(cfg, "train", 50), generate(cfg, "test", 50)

    def probe(feature):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        clf.fit(feature(xtr), ytr)
        return clf.score(feature(xte), yte)

    assert probe(lambda x: x[:, :, 0, :, 0].reshape(len(x), -1)) < 0.2  # chance: 1 / 12
    assert probe(lambda x: x[..., 0].std(axis=2).reshape(len(x), -1)) > 0.85  # unseen subjects


def test_build_dataset_items():
    cfg = DataConfig(num_frames=24, normalize=False, synthetic=small(num_classes=10, num_train=30, num_test=20))
    ds = build_dataset(cfg, "train")
    x, y = ds[5]
    assert len(ds) == 30 and ds.num_classes == 10 and ds.layout.num_joints == 25 and x.shape == (3, 24, 25, 2)
    assert y == int(ds.labels[5]) and ds.num_skipped == 0
    np.testing.assert_array_equal(x.numpy(), generate(cfg.synthetic, "train", 24)[0][5])
    assert len(build_dataset(cfg, "test")) == 20
    one = build_dataset(DataConfig(max_persons=1, num_frames=24, normalize=False, synthetic=cfg.synthetic), "train")
    np.testing.assert_array_equal(one[5][0].numpy(), x.numpy()[..., :1])


def test_bad_settings():
    with pytest.raises(CPMError, match=r"num_classes: must be in \[2, 14\], got 20"):
        generate(small(num_classes=20), "train", 10)
    with pytest.raises(CPMError, match="num_subjects: must be >= 2"):
        generate(small(num_subjects=1), "train", 10)
    with pytest.raises(CPMError, match=r"second_person_prob: must be in \[0, 1\], got 1.5"):
        generate(small(second_person_prob=1.5), "train", 10)
    with pytest.raises(CPMError, match="num_test: must be >= 1, got 0"):
        generate(small(num_test=0), "test", 10)
    with pytest.raises(CPMError, match="synthetic dataset has NTU's 25 joints"):
        build_dataset(DataConfig(layout="kinect_v1"), "train")


def test_validation_split_holds_out_training_performers():
    """data.validation: both splits come from the training clips (the test performers stay unseen), split by
    performer: every training clip lands in exactly one of them."""
    from cpm.data.synthetic import generate, synthetic_samples

    cfg = small(num_classes=10, num_train=60, num_test=20)
    full, _, who = generate(cfg, "train", 12)
    tr, va = (synthetic_samples(cfg, s, 12, validation=True) for s in ("train", "test"))
    assert len(tr.data) + len(va.data) == 60 and len(va.data) > 0
    performers = np.unique(who)
    held = who >= performers[-(len(performers) // 3)]  # the last third of the training performers
    np.testing.assert_array_equal(va.data, full[held])
    np.testing.assert_array_equal(tr.data, full[~held])
