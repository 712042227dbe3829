"""Skeleton layouts and ST-GCN graph partitions."""
import numpy as np
import pytest

from cpm.errors import CPMError
from cpm.graph import Graph, get_layout


@pytest.mark.parametrize("name, v, center, root", [("ntu", 25, 20, 20), ("kinect_v1", 20, 2, 2),
                                                  ("kinect_sdk", 20, 2, 0), ("coco17", 17, 0, 0),
                                                  ("openpose18", 18, 1, 1)])
def test_builtin_layouts_are_trees(name, v, center, root):
    lay = get_layout(name)
    assert lay.num_joints == v and lay.center == center and len(lay.edges) == v - 1 and lay.root == root
    par = lay.parents
    assert par[root] == root
    for j in range(v):  # every joint reaches the root within V steps
        k, steps = j, 0
        while k != root:
            k, steps = par[k], steps + 1
            assert steps < v


def test_ntu_known_bones():
    par = get_layout("ntu").parents
    # 1-based: hand tip 22 -> thumb 23 -> hand 8; head 4 -> neck 3 -> spine shoulder 21; base 1 -> mid spine 2
    assert par[21] == 22 and par[22] == 7 and par[3] == 2 and par[2] == 20 and par[0] == 1


@pytest.mark.parametrize("strategy, k", [("uniform", 1), ("distance", 2), ("spatial", 3)])
@pytest.mark.parametrize("name", ["ntu", "kinect_v1", "kinect_sdk", "coco17", "openpose18"])
def test_partitions_sum_to_normalized_adjacency(name, strategy, k):
    lay = get_layout(name)
    a = Graph(lay, strategy).A
    assert a.shape == (k, lay.num_joints, lay.num_joints) and a.dtype == np.float32
    total = a.sum(0)
    np.testing.assert_allclose(total.sum(0), np.ones(lay.num_joints), atol=1e-6)  # columns sum to 1
    binary = total > 0
    assert (binary == binary.T).all()  # the neighbourhood relation is symmetric
    assert binary.sum() == lay.num_joints + 2 * len(lay.edges)  # self loops + both directions of each edge
    assert ((a > 0).sum(0) <= 1).all()  # partitions are disjoint


def test_spatial_partition_hand_case():
    # chain 0 - 1 - 2 with centre 1: joint 1 gathers from 0 and 2 (both farther from the centre)
    lay = get_layout("custom", edges=[(0, 1), (2, 1)], num_joints=3, center=1)
    a = Graph(lay, "spatial").A
    # degrees with self loops: [2, 3, 2] -> column i divided by deg[i]
    np.testing.assert_allclose(a[0], np.diag([1 / 2, 1 / 3, 1 / 2]), atol=1e-6)
    np.testing.assert_allclose(a[1], [[0, 1 / 3, 0], [0, 0, 0], [0, 1 / 3, 0]], atol=1e-6)
    np.testing.assert_allclose(a[2], [[0, 0, 0], [1 / 2, 0, 1 / 2], [0, 0, 0]], atol=1e-6)
    d = Graph(lay, "distance").A
    np.testing.assert_allclose(d[0], a[0], atol=1e-6)
    np.testing.assert_allclose(d[1], a[1] + a[2], atol=1e-6)


def column(a, i):
    """{partition: {neighbour j: weight}} of the joints that root i gathers from (A[k][j, i])."""
    return {k: {int(j): round(float(a[k][j, i]), 6) for j in np.flatnonzero(a[k][:, i])} for k in range(len(a))}


# Hand-checked columns of the spatial partition (K=3: the root, neighbours as far or farther from the centre,
# neighbours closer to it). Degrees count the self loop; as in ST-GCN's code, distances to the centre are cut at
# max_hop = 1, so a joint two hops away is "inf" (kinect_sdk elbow 5: shoulder 4 is closer, wrist 6 is not).
@pytest.mark.parametrize("name, joint, expected", [
    ("kinect_sdk", 2, {0: {2: 1 / 5}, 1: {1: 1 / 5, 3: 1 / 5, 4: 1 / 5, 8: 1 / 5}, 2: {}}),  # shoulder centre
    ("kinect_sdk", 1, {0: {1: 1 / 3}, 1: {0: 1 / 3}, 2: {2: 1 / 3}}),  # spine: hip centre out, shoulder centre in
    ("kinect_sdk", 5, {0: {5: 1 / 3}, 1: {6: 1 / 3}, 2: {4: 1 / 3}}),  # left elbow
    ("coco17", 0, {0: {0: 1 / 5}, 1: {1: 1 / 5, 2: 1 / 5, 5: 1 / 5, 6: 1 / 5}, 2: {}}),  # nose (centre)
    ("coco17", 5, {0: {5: 1 / 4}, 1: {7: 1 / 4, 11: 1 / 4}, 2: {0: 1 / 4}}),  # left shoulder
    ("openpose18", 1, {0: {1: 1 / 4}, 1: {0: 1 / 4, 2: 1 / 4, 5: 1 / 4}, 2: {}}),  # neck (centre)
    ("openpose18", 2, {0: {2: 1 / 4}, 1: {3: 1 / 4, 8: 1 / 4}, 2: {1: 1 / 4}}),  # right shoulder
])
def test_spatial_partition_hand_checked_columns(name, joint, expected):
    a = Graph(get_layout(name), "spatial").A
    assert column(a, joint) == {k: {j: round(w, 6) for j, w in d.items()} for k, d in expected.items()}


def test_custom_layout_centre_need_not_be_the_root():
    # a Kinect SDK order dataset described by hand: root hip centre 0, centre spine 1 (was refused before)
    sdk = get_layout("kinect_sdk")
    lay = get_layout("custom", edges=[list(e) for e in sdk.edges], num_joints=20, center=1)
    assert lay.root == 0 and lay.center == 1
    np.testing.assert_array_equal(lay.parents, sdk.parents)  # bones do not depend on the centre
    a = Graph(lay, "spatial").A
    # spine 1 is the centre now: hip centre 0 and shoulder centre 2 are both one hop out (degree 3)
    assert column(a, 1) == {0: {1: round(1 / 3, 6)}, 1: {0: round(1 / 3, 6), 2: round(1 / 3, 6)}, 2: {}}
    assert column(a, 2)[2] == {1: round(1 / 5, 6)}  # shoulder centre gathers the spine as the closer neighbour
    assert sdk.parents[1] == 0 and sdk.parents[0] == 0 and sdk.parents[7] == 6  # spine->hip centre, hand->wrist


@pytest.mark.parametrize("edges, v, c, msg", [
    ([(0, 1)], 3, 1, "needs 2 edges"),
    ([(0, 1), (0, 2)], 3, 1, "joint 0 is the child of two edges"),
    ([(0, 2), (2, 0)], 3, 1, "exactly once|reach"),
    ([(0, 1), (2, 5)], 3, 1, "must join"),
    ([(0, 1), (2, 1, 0)], 3, 1, r"edge \(2, 1, 0\) must be a \[child, parent\] pair"),
    ([(0, 1), ("a", 1)], 3, 1, "must be a \\[child, parent\\] pair"),
])
def test_invalid_custom_layouts(edges, v, c, msg):
    with pytest.raises(CPMError, match=msg):
        get_layout("custom", edges=edges, num_joints=v, center=c)


def test_unknown_names():
    with pytest.raises(CPMError, match="unknown layout"):
        get_layout("coco")
    with pytest.raises(CPMError, match="strategy"):
        Graph(get_layout("ntu"), "fancy")
