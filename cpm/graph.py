"""Skeleton layouts and the ST-GCN graph partitions (Yan et al., AAAI 2018; cf. pyskl utils/graph.py).

A `Layout` is a tree of joints: `edges` are (child, parent) pairs, 0-based. Any tree works: its root (the one
joint that is no child) only orients the bones (bone = joint - parent), while the `center` (ST-GCN's gravity
centre, any joint) decides the spatial partition. `Graph(layout, strategy)` turns it into the normalized
adjacency stack `A` of shape (K, V, V) used by the spatial graph convolution: column j of sum_k A[k] holds the
weights with which joint j gathers from its neighbours (itself included), and each column sums to 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpm.errors import CPMError

# NTU RGB+D (Kinect v2), 1-based (child, parent) as in ST-GCN's 'ntu-rgb+d' layout; centre 21 = spine shoulder.
_NTU_1BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
    (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8),
    (24, 25), (25, 12),
)
# MSR Action3D (Kinect v1) joint order, 1-based: 1 L shoulder, 2 R shoulder, 3 shoulder centre, 4 spine,
# 5 L hip, 6 R hip, 7 hip centre, 8/9 elbows, 10/11 wrists, 12/13 hands, 14/15 knees, 16/17 ankles,
# 18/19 feet, 20 head. Centre 3 (shoulder centre) mirrors NTU's spine-shoulder centre.
_KINECT_V1_1BASED = (
    (1, 3), (2, 3), (4, 3), (20, 3), (7, 4), (5, 7), (6, 7), (8, 1), (9, 2), (10, 8), (11, 9), (12, 10),
    (13, 11), (14, 5), (15, 6), (16, 14), (17, 15), (18, 16), (19, 17),
)
# Kinect SDK v1 NUI_SKELETON_POSITION_INDEX order (Microsoft Kinect for Windows SDK 1.x, NuiSkeleton.h), 0-based:
# 0 hip centre, 1 spine, 2 shoulder centre, 3 head, 4-7 L shoulder/elbow/wrist/hand, 8-11 the right ones,
# 12-15 L hip/knee/ankle/foot, 16-19 the right ones; root = hip centre, centre 2 (shoulder centre) as kinect_v1.
_KINECT_SDK = (
    (1, 0), (2, 1), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18),
)
# COCO keypoints, 0-based (0 nose, 1/2 L/R eye, 3/4 L/R ear, 5/6 L/R shoulder, 7/8 elbows, 9/10 wrists,
# 11/12 hips, 13/14 knees, 15/16 ankles); tree and centre 0 of pyskl utils/graph.py layout 'coco'.
_COCO17 = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6), (5, 0), (6, 0),
    (1, 0), (3, 1), (2, 0), (4, 2),
)
# OpenPose BODY_18 (COCO-18) order, 0-based: 0 nose, 1 neck, 2-4 R shoulder/elbow/wrist, 5-7 the left ones,
# 8-10 R hip/knee/ankle, 11-13 the left ones, 14/15 R/L eye, 16/17 R/L ear; tree and centre 1 (neck) of
# ST-GCN's net/utils/graph.py layout 'openpose' (also pyskl's).
_OPENPOSE18 = (
    (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1), (2, 1),
    (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
)


@dataclass(frozen=True)
class Layout:
    """A skeleton: `num_joints` joints, `edges` = (child, parent) 0-based pairs forming a tree (any root), and the
    `center` joint of the spatial partition (any joint)."""

    name: str
    num_joints: int
    edges: tuple[tuple[int, int], ...]
    center: int
    shoulders: tuple[int, int] | None = None  # (left, right) 0-based, for view normalisation; None = unknown

    def __post_init__(self) -> None:
        v = self.num_joints
        if v < 1:
            raise CPMError(f"layout '{self.name}': num_joints must be >= 1, got {v}")
        if not 0 <= self.center < v:
            raise CPMError(f"layout '{self.name}': center must be in [0, {v}), got {self.center}")
        if len(self.edges) != v - 1:
            raise CPMError(f"layout '{self.name}': a tree of {v} joints needs {v - 1} edges, got {len(self.edges)}")
        for c, p in self.edges:
            if not (0 <= c < v and 0 <= p < v) or c == p:
                raise CPMError(f"layout '{self.name}': edge ({c}, {p}) must join two different joints in [0, {v})")
        children = [c for c, _ in self.edges]
        twice = sorted({c for c in children if children.count(c) > 1})
        if twice:  # then some other joint is no child either: the (child, parent) pairs are not one tree
            raise CPMError(f"layout '{self.name}': joint {twice[0]} is the child of two edges; each joint but "
                           "the tree's root must be the child (first entry) of exactly one [child, parent] edge")
        # every joint must reach the root by following parents (no cycles, one component)
        parent, root = dict(self.edges), self.root
        for j in range(v):
            seen, k = set(), j
            while k != root:
                if k in seen:
                    raise CPMError(f"layout '{self.name}': joint {j} does not reach the tree's root {root} "
                                   "(the edges hold a cycle)")
                seen.add(k)
                k = parent[k]
        if self.shoulders is not None:
            left, right = self.shoulders
            if not (0 <= left < v and 0 <= right < v) or left == right:
                raise CPMError(f"layout '{self.name}': shoulders ({left}, {right}) must be two different joints "
                               f"in [0, {v})")

    @property
    def root(self) -> int:
        """The joint that is no edge's child (the tree's root; it need not be the centre)."""
        return (set(range(self.num_joints)) - {c for c, _ in self.edges}).pop()

    @property
    def parents(self) -> np.ndarray:
        """(V,) parent index of each joint; the root is its own parent (so its bone is zero)."""
        par = np.arange(self.num_joints)
        for c, p in self.edges:
            par[c] = p
        return par


LAYOUTS = {
    "ntu": Layout("ntu", 25, tuple((c - 1, p - 1) for c, p in _NTU_1BASED), 20, shoulders=(4, 8)),
    "kinect_v1": Layout("kinect_v1", 20, tuple((c - 1, p - 1) for c, p in _KINECT_V1_1BASED), 2, shoulders=(0, 1)),
    "kinect_sdk": Layout("kinect_sdk", 20, _KINECT_SDK, 2, shoulders=(4, 8)),
    "coco17": Layout("coco17", 17, _COCO17, 0, shoulders=(5, 6)),
    "openpose18": Layout("openpose18", 18, _OPENPOSE18, 1, shoulders=(5, 2)),
}
LAYOUT_NAMES = tuple(LAYOUTS) + ("custom",)


def _joint_pair(e, what: str, form: str) -> tuple[int, int]:
    """A `form` ("[child, parent]") pair of 0-based joint indices from a config list, or an error naming `what`."""
    if not (isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(j, (int, np.integer))
                                                                and not isinstance(j, bool) for j in e)):
        raise CPMError(f"layout 'custom': {what} must be a {form} pair of 0-based joint indices")
    return int(e[0]), int(e[1])


def get_layout(name: str, edges=None, num_joints: int | None = None, center: int | None = None,
               shoulders=None) -> Layout:
    """A built-in layout by name (see `LAYOUTS`), or 'custom' from 0-based (child, parent) `edges`, any `center`
    and optionally the (left, right) `shoulders` that view normalisation turns onto x (empty or None: unknown)."""
    if name == "custom":
        if edges is None or num_joints is None or center is None:
            raise CPMError("layout 'custom' needs edges, num_joints and center (0-based)")
        pairs = tuple(_joint_pair(e, f"edge {e!r}", "[child, parent]") for e in edges)
        known = _joint_pair(shoulders, f"shoulders {shoulders!r}", "[left, right]") if shoulders else None
        return Layout("custom", int(num_joints), pairs, int(center), shoulders=known)
    if name not in LAYOUTS:
        raise CPMError(f"unknown layout '{name}': expected one of {', '.join(LAYOUT_NAMES)}")
    return LAYOUTS[name]


def layout_of(data_cfg) -> Layout:
    """The skeleton layout a `DataConfig` names (`data.layout`; a custom one from its `layout_*` keys)."""
    return get_layout(data_cfg.layout, data_cfg.layout_edges, data_cfg.layout_num_joints, data_cfg.layout_center,
                      data_cfg.layout_shoulders)


def hop_distance(num_joints: int, edges, max_hop: int = 1) -> np.ndarray:
    """(V, V) graph distance between joints, inf beyond `max_hop`."""
    adj = np.zeros((num_joints, num_joints))
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    dist = np.full((num_joints, num_joints), np.inf)
    reach = [np.linalg.matrix_power(adj + np.eye(num_joints), d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        dist[reach[d]] = d
    return dist


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """A D^-1: divide each column by its sum (ST-GCN's normalisation; isolated columns stay zero)."""
    deg = a.sum(0)
    inv = np.where(deg > 0, 1.0 / np.where(deg > 0, deg, 1.0), 0.0)
    return a * inv[None, :]


class Graph:
    """ST-GCN partitions of a layout: 'uniform' (K=1), 'distance' (K=max_hop+1), 'spatial' (K=3 for max_hop=1).

    'spatial' splits each joint's neighbourhood into the root itself, the neighbours closer to the
    gravity centre (the layout's `center`) and those farther from it (ST-GCN, Sec. 3.4).
    """

    def __init__(self, layout: Layout, strategy: str = "spatial", max_hop: int = 1):
        self.layout, self.strategy, self.max_hop = layout, strategy, max_hop
        v = layout.num_joints
        self.hop_dis = hop_distance(v, layout.edges, max_hop)
        adjacency = np.zeros((v, v))
        adjacency[self.hop_dis <= max_hop] = 1
        norm = normalize_digraph(adjacency)
        if strategy == "uniform":
            a = norm[None]
        elif strategy == "distance":
            a = np.stack([norm * (self.hop_dis == hop) for hop in range(max_hop + 1)])
        elif strategy == "spatial":
            a = self._spatial(norm)
        else:
            raise CPMError(f"unknown graph strategy '{strategy}': expected 'uniform', 'distance' or 'spatial'")
        self.A = a.astype(np.float32)

    def _spatial(self, norm: np.ndarray) -> np.ndarray:
        # as ST-GCN's reference code: hop distances are only counted up to max_hop, so joints farther from the
        # centre are all at "inf" and their neighbours share one partition (kept: it defines the published model)
        to_center = self.hop_dis[:, self.layout.center]
        parts = []
        for hop in range(self.max_hop + 1):
            mask = self.hop_dis == hop  # mask[j, i]: joint j is `hop` away from i
            # entry [j, i]: how neighbour j sits relative to the root i, measured by distance to the centre
            same = mask & (to_center[:, None] == to_center[None, :])
            outward = mask & (to_center[:, None] > to_center[None, :])  # j farther from the centre than i
            inward = mask & (to_center[:, None] < to_center[None, :])  # j closer to the centre than i
            if hop == 0:
                parts.append(norm * same)
            else:  # ST-GCN's reference code groups same-distance neighbours with the outward ones
                parts.append(norm * (same | outward))
                parts.append(norm * inward)
        return np.stack(parts)
