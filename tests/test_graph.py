"""Skeleton layouts and ST-GCN graph partitions."""
import numpy as np
import pytest

from cpm.errors import CPMError
from cpm.graph import Graph, get_layout


@pytest.mark.parametrize("name, v, center", [("ntu", 25, 20), ("kinect_v1", 20, 2)])
def test_builtin_layouts_are_trees(name, v, center):
    lay = get_layout(name)
    assert lay.num_joints == v and lay.center == center and len(lay.edges) == v - 1
    par = lay.parents
    assert par[center] == center
    for j in range(v):  # every joint reaches the centre within V steps
        k, steps = j, 0
        while k != center:
            k, steps = par[k], steps + 1
            assert steps < v


def test_ntu_known_bones():
    par = get_layout("ntu").parents
    # 1-based: hand tip 22 -> thumb 23 -> hand 8; head 4 -> neck 3 -> spine shoulder 21; base 1 -> mid spine 2
    assert par[21] == 22 and par[22] == 7 and par[3] == 2 and par[2] == 20 and par[0] == 1


@pytest.mark.parametrize("strategy, k", [("uniform", 1), ("distance", 2), ("spatial", 3)])
@pytest.mark.parametrize("name", ["ntu", "kinect_v1"])
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


@pytest.mark.parametrize("edges, v, c, msg", [
    ([(0, 1)], 3, 1, "needs 2 edges"),
    ([(0, 1), (0, 2)], 3, 1, "exactly once"),
    ([(0, 2), (2, 0)], 3, 1, "exactly once|reach"),
    ([(0, 1), (2, 5)], 3, 1, "must join"),
])
def test_invalid_custom_layouts(edges, v, c, msg):
    with pytest.raises(CPMError, match=msg):
        get_layout("custom", edges=edges, num_joints=v, center=c)


def test_unknown_names():
    with pytest.raises(CPMError, match="unknown layout"):
        get_layout("coco")
    with pytest.raises(CPMError, match="strategy"):
        Graph(get_layout("ntu"), "fancy")
