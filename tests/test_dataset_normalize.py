"""data.normalize: per-clip centring and shoulder alignment at load."""
import numpy as np

from cpm.data.dataset import normalize_view
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
