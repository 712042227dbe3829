import numpy as np
import pytest
import torch

from cpm.data.streams import to_stream
from cpm.errors import CPMError
from cpm.graph import get_layout

# a 3-joint chain 0 - 1 - 2 rooted at joint 1: parents = [1, 1, 1]
CHAIN = get_layout("custom", edges=[(0, 1), (2, 1)], num_joints=3, center=1)


def sample() -> np.ndarray:
    """(C=2, T=3, V=3, M=1) with x[c, t, v] = 100 c + 10 t + v^2."""
    c, t, v = np.meshgrid(np.arange(2), np.arange(3), np.arange(3), indexing="ij")
    return (100 * c + 10 * t + v**2).astype(np.float32)[..., None]


def test_bone_is_joint_minus_parent_and_centre_is_zero():
    bone = to_stream(sample(), "bone", CHAIN)
    # joint 0: 0 - 1 = -1, centre 1: 0, joint 2: 4 - 1 = 3 (same in every channel and frame)
    np.testing.assert_array_equal(bone[0, 0, :, 0], [-1, 0, 3])
    np.testing.assert_array_equal(bone[1, 2, :, 0], [-1, 0, 3])
    assert bone.dtype == np.float32 and bone.shape == (2, 3, 3, 1)


def test_motion_is_next_minus_current_last_frame_zero():
    x = sample()
    x[0, 2, 1, 0] = 50.0  # t=1 -> t=2 jump for joint 1: 50 - 11 = 39
    motion = to_stream(x, "motion", CHAIN)
    np.testing.assert_array_equal(motion[0, :, 0, 0], [10, 10, 0])
    np.testing.assert_array_equal(motion[0, :, 1, 0], [10, 39, 0])
    np.testing.assert_array_equal(motion[1, :, 2, 0], [10, 10, 0])


def test_joint_is_identity_without_copy():
    x = sample()
    assert to_stream(x, "joint", CHAIN) is x


@pytest.mark.parametrize("stream", ["bone", "motion"])
def test_torch_batch_matches_numpy_samples(stream):
    layout = get_layout("ntu")
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(4, 3, 7, 25, 2)).astype(np.float32)
    out = to_stream(torch.from_numpy(batch), stream, layout)
    assert isinstance(out, torch.Tensor) and out.shape == (4, 3, 7, 25, 2) and out.dtype == torch.float32
    for i in range(4):
        np.testing.assert_allclose(out[i].numpy(), to_stream(batch[i], stream, layout), rtol=0, atol=1e-6)


def test_ntu_bones_follow_the_layout():
    layout = get_layout("ntu")
    x = np.random.default_rng(1).normal(size=(3, 2, 25, 1)).astype(np.float32)
    bone = to_stream(x, "bone", layout)
    np.testing.assert_array_equal(bone[:, :, 20], 0)  # centre: spine shoulder (1-based 21)
    np.testing.assert_array_equal(bone[:, :, 3], x[:, :, 3] - x[:, :, 2])  # head - neck
    np.testing.assert_array_equal(bone[:, :, 0], x[:, :, 0] - x[:, :, 1])  # spine base - mid spine


def test_kinect_v1_bones():
    layout = get_layout("kinect_v1")
    x = np.random.default_rng(2).normal(size=(2, 3, 2, 20, 1)).astype(np.float32)
    bone = to_stream(torch.from_numpy(x), "bone", layout).numpy()
    np.testing.assert_array_equal(bone[:, :, :, 2], 0)  # shoulder centre
    np.testing.assert_array_equal(bone[:, :, :, 19], x[:, :, :, 19] - x[:, :, :, 2])  # head - shoulder centre


def test_bad_input():
    with pytest.raises(CPMError, match="unknown stream 'velocity'"):
        to_stream(sample(), "velocity", CHAIN)
    with pytest.raises(CPMError, match="V=25 joints but layout 'custom' has 3"):
        to_stream(np.zeros((3, 4, 25, 1), np.float32), "bone", CHAIN)
    with pytest.raises(CPMError, match=r"got shape \(3, 4\)"):
        to_stream(np.zeros((3, 4), np.float32), "motion", CHAIN)


def test_bone_follows_the_tree_not_the_centre():
    # chain 0 - 1 - 2 rooted at 0 ([child, parent] = [1, 0], [2, 1]) with centre 1: bones point to the parent,
    # the root's bone is zero; the centre plays no part
    lay = get_layout("custom", edges=[[1, 0], [2, 1]], num_joints=3, center=1)
    x = np.array([[1.0, 4.0, 9.0], [0.0, 1.0, 3.0]]).reshape(2, 1, 3, 1)  # (C=2, T=1, V=3, M=1): 2-D data
    np.testing.assert_array_equal(to_stream(x, "bone", lay).reshape(2, 3), [[0, 3, 5], [0, 1, 2]])
