"""The embedded demo dataset: procedurally animated NTU 25-joint skeletons (no data files, seconds to make).

Each sample: a performer (body size and proportions, tempo, resting posture: fixed per subject) does one of
the motion classes of cpm/data/motions.py with random speed, phase, amplitude, timing inside the clip, an
idle sway and fidget, sometimes a faint movement of another class, seen from a random yaw and camera tilt,
with Gaussian joint noise and occasionally an idle second person. Train and test performers are disjoint
(the first 60 % of the subjects act in the train split). Everything follows from `cfg.seed`.
"""
from __future__ import annotations

import numpy as np

from cpm.data.motions import CLASS_NAMES, CYCLES, D, SIDED, UNSIDED, Ctx, apply_class
from cpm.data.readers import Samples
from cpm.errors import CPMError

TRAIN_SUBJECT_FRACTION = 0.6
# segment lengths (m) of a 1.75 m body; NTU joint indices below are 0-based
SEGMENTS = dict(spine1=0.22, spine2=0.25, neck=0.08, head=0.15, shoulder=0.18, upper_arm=0.29, forearm=0.25,
                hand=0.08, tip=0.06, hip=0.09, thigh=0.43, shin=0.42, foot=0.14, ankle=0.08)
ARM = ((8, 9, 10, 11, 23, 24), (4, 5, 6, 7, 21, 22))  # right, left: shoulder elbow wrist hand tip thumb
LEG = ((16, 17, 18, 19), (12, 13, 14, 15))  # right, left: hip knee ankle foot


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about x (0), y (1) or z (2) by angles `a`."""
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    m = {0: ((o, z, z), (z, c, -s), (z, s, c)), 1: ((c, z, s), (z, o, z), (-s, z, c)),
         2: ((c, -s, z), (s, c, z), (z, z, o))}[axis]
    return np.stack([np.stack(row, -1) for row in m], -2)


def _mv(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (r @ v[..., None])[..., 0]


def _subjects(rng: np.random.Generator, num: int) -> dict:
    """Per-subject traits: size, proportions, tempo, amplitude and resting posture."""
    u = lambda lo, hi, *shape: rng.uniform(lo, hi, (num,) + shape)  # noqa: E731
    return dict(scale=u(0.85, 1.15), arm=u(0.92, 1.08), leg=u(0.93, 1.07), width=u(0.9, 1.12),
                tempo=u(0.75, 1.3), amp=u(0.8, 1.15), abd=u(4, 18, 2) * D, elbow=u(5, 30, 2) * D,
                lean=u(-3, 8) * D)


def _idle(rng: np.random.Generator, subj: dict, idx: np.ndarray, t: np.ndarray) -> dict:
    """Resting pose with sway and a fidgeting forearm (no class information)."""
    n, T = idx.size, t.size
    u = lambda lo, hi, *shape: rng.uniform(lo, hi, (n,) + shape)  # noqa: E731
    q = {k: np.zeros((n, 2, T)) for k in SIDED} | {k: np.zeros((n, T)) for k in UNSIDED}
    q["sh_abd"] += (subj["abd"][idx] + u(-4, 4, 2) * D)[..., None]
    q["sh_flex"] += (u(-5, 15, 2) * D)[..., None]
    q["elbow"] += (subj["elbow"][idx] + u(-5, 5, 2) * D)[..., None]
    q["hip_abd"] += (u(2, 7, 2) * D)[..., None]
    q["knee"] += (u(0, 6, 2) * D)[..., None]
    q["torso_pitch"] += (subj["lean"][idx] + u(-2, 2) * D)[:, None]
    q["head_pitch"] += (u(-5, 10) * D)[:, None]
    sway = np.sin(2 * np.pi * u(0.3, 1.2)[:, None] * t + u(0, 2 * np.pi)[:, None])
    q["root_x"] += u(0.005, 0.03)[:, None] * sway
    q["torso_yaw"] += (u(0, 6) * D)[:, None] * np.sin(2 * np.pi * u(0.3, 1.2)[:, None] * t + u(0, 6.3)[:, None])
    fidget = (rng.random(n) < 0.5)[:, None] * u(5, 20)[:, None] * D
    wiggle = np.sin(2 * np.pi * u(1, 4)[:, None] * t + u(0, 6.3)[:, None])
    q["elbow"][np.arange(n), rng.integers(0, 2, n)] += fidget * wiggle
    return q


def _act(rng: np.random.Generator, q: dict, labels: np.ndarray, t: np.ndarray, speed: np.ndarray,
         amp: np.ndarray, dur: tuple) -> None:
    """Add each sample's class motion (label -1 = none) inside a random window of the clip."""
    for c in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == c)
        k = rows.size
        length = rng.uniform(*dur, (k, 1))
        p = np.clip((t - rng.uniform(0, 1, (k, 1)) * (1 - length)) / length, 0, 1)
        ramp = np.clip(np.minimum(p, 1 - p) / 0.12, 0, 1)
        env = ramp * ramp * (3 - 2 * ramp)
        cycles = rng.uniform(*CYCLES[c], (k, 1)) * (speed[rows, None] if CYCLES[c][0] != CYCLES[c][1] else 1)
        ctx = Ctx(rows=rows, side=rng.integers(0, 2, k), env=env, p=p,
                  osc=np.sin(2 * np.pi * cycles * p + rng.uniform(0, 2 * np.pi, (k, 1))),
                  pulse=(1 - np.cos(2 * np.pi * cycles * p)) / 2 * env, amp=amp[rows, None],
                  turn=rng.choice([-1.0, 1.0], (k, 1)))
        apply_class(q, int(c), ctx)


def _skeleton(q: dict, subj: dict, idx: np.ndarray) -> np.ndarray:
    """Forward kinematics: pose dict -> joints (n, T, 25, 3), feet on the floor y = 0, facing -z."""
    n, T = q["root_y"].shape
    seg = {k: v * subj["scale"][idx] for k, v in SEGMENTS.items()}
    for k in ("upper_arm", "forearm", "hand", "tip"):
        seg[k] = seg[k] * subj["arm"][idx]
    for k in ("thigh", "shin"):
        seg[k] = seg[k] * subj["leg"][idx]
    seg["shoulder"], seg["hip"] = seg["shoulder"] * subj["width"][idx], seg["hip"] * subj["width"][idx]
    vec = lambda x, y, z: np.stack(np.broadcast_arrays(x, y, z), -1)[:, None]  # noqa: E731  (n, 1, 3)
    zero = np.zeros(n)
    x = np.zeros((n, T, 25, 3))
    root = _rot(1, q["root_yaw"])
    torso = root @ _rot(1, q["torso_yaw"]) @ _rot(0, -q["torso_pitch"]) @ _rot(2, q["torso_roll"])
    pelvis = np.stack([q["root_x"], np.zeros((n, T)), np.zeros((n, T))], -1)
    x[:, :, 0] = pelvis
    x[:, :, 1] = pelvis + _mv(torso, vec(zero, seg["spine1"], zero))
    x[:, :, 20] = pelvis + _mv(torso, vec(zero, seg["spine1"] + seg["spine2"], zero))
    x[:, :, 2] = x[:, :, 20] + _mv(torso, vec(zero, seg["neck"], zero))
    x[:, :, 3] = x[:, :, 2] + _mv(torso @ _rot(0, -q["head_pitch"]), vec(zero, seg["head"], zero))
    for side, sign in ((0, 1.0), (1, -1.0)):  # the subject's right is +x when facing the camera (-z)
        g = {k: q[k][:, side] for k in SIDED}
        sh, el, wr, ha, tip, th = ARM[side]
        arm = torso @ _rot(1, sign * g["sh_horiz"]) @ _rot(2, sign * g["sh_abd"]) @ _rot(0, g["sh_flex"])
        fore = arm @ _rot(0, g["elbow"])
        x[:, :, sh] = x[:, :, 20] + _mv(torso, vec(sign * seg["shoulder"], -0.02 * subj["scale"][idx], zero))
        x[:, :, el] = x[:, :, sh] + _mv(arm, vec(zero, -seg["upper_arm"], zero))
        x[:, :, wr] = x[:, :, el] + _mv(fore, vec(zero, -seg["forearm"], zero))
        x[:, :, ha] = x[:, :, wr] + _mv(fore, vec(zero, -seg["hand"], zero))
        x[:, :, tip] = x[:, :, ha] + _mv(fore, vec(zero, -seg["tip"], zero))
        x[:, :, th] = x[:, :, wr] + _mv(fore, vec(-sign * 0.4 * seg["hand"], -0.5 * seg["hand"], -0.25 * seg["hand"]))
        hip, kn, an, ft = LEG[side]
        leg = root @ _rot(2, sign * g["hip_abd"]) @ _rot(0, g["hip_flex"])
        shin = leg @ _rot(0, -g["knee"])
        x[:, :, hip] = pelvis + _mv(root, vec(sign * seg["hip"], -0.05 * subj["scale"][idx], zero))
        x[:, :, kn] = x[:, :, hip] + _mv(leg, vec(zero, -seg["thigh"], zero))
        x[:, :, an] = x[:, :, kn] + _mv(shin, vec(zero, -seg["shin"], zero))
        x[:, :, ft] = x[:, :, an] + _mv(shin, vec(zero, -0.4 * seg["ankle"], -seg["foot"]))
    # the lower ankle rests on the floor (ankle height above it); root_y lifts the body (jumps)
    ground = seg["ankle"][:, None] - np.minimum(x[:, :, 18, 1], x[:, :, 14, 1]) + q["root_y"]
    x[..., 1] += ground[:, :, None]
    return x


def _place(x: np.ndarray, yaw: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Rotate each body (n, T, 25, 3) about the vertical axis by `yaw` and move it by `offset` (n, 3)."""
    return _mv(_rot(1, yaw)[:, None, None], x) + offset[:, None, None]


def generate(cfg, split: str, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data (N, 3, T, 25, 2) float32, labels (N,) int64, subjects (N,) int64) of one split."""
    nc = cfg.num_classes
    if not 2 <= nc <= len(CLASS_NAMES):
        raise CPMError(f"data.synthetic.num_classes: must be in [2, {len(CLASS_NAMES)}], got {nc}")
    num_subjects = cfg.num_subjects
    if num_subjects < 2:
        raise CPMError(f"data.synthetic.num_subjects: must be >= 2 (train and test performers), got {num_subjects}")
    for key in ("second_person_prob", "distractor_prob"):
        if not 0.0 <= getattr(cfg, key) <= 1.0:
            raise CPMError(f"data.synthetic.{key}: must be in [0, 1], got {getattr(cfg, key)}")
    if cfg.noise < 0 or cfg.view_range < 0:
        raise CPMError(f"data.synthetic.noise / view_range: must be >= 0, got {cfg.noise} / {cfg.view_range}")
    n = cfg.num_train if split == "train" else cfg.num_test
    if n < 1:
        raise CPMError(f"data.synthetic.num_{split}: must be >= 1, got {n}")
    subj_seed, train_seed, test_seed = np.random.SeedSequence(cfg.seed).spawn(3)
    subj = _subjects(np.random.default_rng(subj_seed), num_subjects)
    cut = min(num_subjects - 1, max(1, round(TRAIN_SUBJECT_FRACTION * num_subjects)))
    pool = np.arange(cut) if split == "train" else np.arange(cut, num_subjects)
    rng = np.random.default_rng(train_seed if split == "train" else test_seed)
    t = np.linspace(0.0, 1.0, num_frames)
    labels = rng.permutation(np.arange(n) % nc)
    who = rng.choice(pool, n)
    speed, amp = subj["tempo"][who] * rng.uniform(0.85, 1.15, n), subj["amp"][who] * rng.uniform(0.85, 1.15, n)
    q = _idle(rng, subj, who, t)
    _act(rng, q, labels, t, speed, amp, (0.6, 0.95))
    # a faint movement of another class, so a single moving joint does not give the label away
    other = np.where(rng.random(n) < cfg.distractor_prob, (labels + rng.integers(1, nc, n)) % nc, -1)
    _act(rng, q, other, t, speed, rng.uniform(0.15, 0.3, n), (0.3, 0.6))
    view = rng.uniform(-1, 1, n) * cfg.view_range * D
    spot = np.stack([rng.uniform(-0.4, 0.4, n), -rng.uniform(0.7, 1.0, n), rng.uniform(2.6, 3.6, n)], -1)
    bodies = np.zeros((n, num_frames, 25, 3, 2))
    bodies[..., 0] = _place(_skeleton(q, subj, who), view, spot)  # yaw 0: facing the camera
    two = np.flatnonzero(rng.random(n) < cfg.second_person_prob)
    if two.size:
        mate = rng.choice(pool, two.size)
        q2 = _idle(rng, subj, mate, t)
        side = rng.choice([-1.0, 1.0], two.size) * rng.uniform(0.8, 1.3, two.size)
        lateral = np.stack([side * np.cos(view[two]), np.zeros(two.size), -side * np.sin(view[two])], -1)
        yaw2 = view[two] + rng.uniform(-30, 30, two.size) * D
        bodies[two, ..., 1] = _place(_skeleton(q2, subj, mate), yaw2, spot[two] + lateral)
    tilt = _rot(0, rng.uniform(-8, 8, n) * D)[:, None, None]  # camera pitch, (n, 1, 1, 3, 3)
    bodies = tilt @ bodies  # (n, T, 25, 3, 2): both persons, coordinates on axis -2
    present = np.zeros((n, 1, 1, 1, 2), dtype=bool)
    present[..., 0], present[two, ..., 1] = True, True
    bodies += rng.normal(0.0, cfg.noise, bodies.shape) * present
    data = np.ascontiguousarray(bodies.transpose(0, 3, 1, 2, 4), dtype=np.float32)  # (N, 3, T, V, M)
    return data, labels.astype(np.int64), who.astype(np.int64)


def synthetic_samples(cfg, split: str, num_frames: int, validation: bool = False) -> Samples:
    """The demo dataset's `split` as reader output (already `num_frames` long, M = 2). With `validation` both
    splits come from the training clips: the last third of the training subjects are held out as "test"."""
    if not validation:
        data, labels, _ = generate(cfg, split, num_frames)
        return Samples(data, labels, f"synthetic(seed={cfg.seed}, split={split})", num_classes=cfg.num_classes)
    data, labels, who = generate(cfg, "train", num_frames)
    held = who >= np.unique(who)[-max(1, len(np.unique(who)) // 3)]  # the held-out performers
    keep = ~held if split == "train" else held
    return Samples(data[keep], labels[keep], f"synthetic(seed={cfg.seed}, validation {split})",
                   num_classes=cfg.num_classes)
