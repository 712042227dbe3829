"""Joint-angle motion patterns of the embedded demo dataset (cpm/data/synthetic.py).

A pose is a dict of joint angles (radians) and root offsets over time: one-sided entries have shape
(n, 2, T) with side 0 = right, 1 = left; the others (n, T). A class adds its pattern on top of an idle
pose; `Ctx` holds, for the k samples of one class, the action envelope and oscillation. Patterns differ
in *motion* (which joints move, how, in which rhythm), not in a held pose: most start and end at rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDED = ("sh_flex", "sh_abd", "sh_horiz", "elbow", "hip_flex", "hip_abd", "knee")
UNSIDED = ("root_y", "root_yaw", "root_x", "torso_pitch", "torso_roll", "torso_yaw", "head_pitch")
CLASS_NAMES = (
    "wave", "punch", "front kick", "squat", "jump", "bow", "turn", "clap", "side kick", "jumping jacks",
    "march", "two-hand wave", "side bend", "stretch up",
)
# cycles of the pattern over the action window (scaled by the performer's speed)
CYCLES = ((2, 4), (1.5, 3), (1, 2), (1, 2.5), (1.5, 3), (1, 1.5), (1, 1), (3, 6), (1, 2), (2, 4),
          (2, 4), (2, 4), (1, 2), (1, 2))
D = np.pi / 180.0


@dataclass
class Ctx:
    rows: np.ndarray  # (k,) sample indices of this class
    side: np.ndarray  # (k,) acting side: 0 right, 1 left
    env: np.ndarray  # (k, T) 0 outside the action window, smooth ramps to 1 inside
    p: np.ndarray  # (k, T) progress through the window in [0, 1]
    osc: np.ndarray  # (k, T) sin(2 pi cycles p + phase)
    pulse: np.ndarray  # (k, T) (1 - cos(2 pi cycles p)) / 2 * env: smooth down-up repetitions from rest
    amp: np.ndarray  # (k, 1) amplitude factor
    turn: np.ndarray  # (k, 1) +-1: turning direction


def _add(q: dict, key: str, ctx: Ctx, value, side=None) -> None:
    value = np.broadcast_to(value, ctx.env.shape)
    if side is None:
        q[key][ctx.rows] += value
    else:  # one side per sample (advanced indexing on (n, 2, T))
        q[key][ctx.rows, side] += value


def _both(q: dict, key: str, ctx: Ctx, value) -> None:
    _add(q, key, ctx, value, np.zeros_like(ctx.side))
    _add(q, key, ctx, value, np.ones_like(ctx.side))


def apply_class(q: dict, label: int, ctx: Ctx) -> None:
    """Add class `label`'s motion to the pose dict `q` for the samples ctx.rows (in place)."""
    e, a, s, o = ctx.env, ctx.amp, ctx.side, 1 - ctx.side
    osc, pulse = ctx.osc, ctx.pulse
    up, down = np.maximum(osc, 0), np.maximum(-osc, 0)
    if label == 0:  # wave: one arm raised sideways, forearm swinging
        _add(q, "sh_abd", ctx, a * e * 140 * D, s)
        _add(q, "elbow", ctx, a * e * (35 + 35 * osc) * D, s)
    elif label == 1:  # punch: guard, then alternate straight punches
        _both(q, "sh_flex", ctx, a * e * 40 * D)
        _both(q, "elbow", ctx, a * e * 100 * D)
        for side, hit in ((s, up**2), (o, down**2)):
            _add(q, "sh_flex", ctx, a * e * hit * 45 * D, side)
            _add(q, "elbow", ctx, -a * e * hit * 100 * D, side)
    elif label == 2:  # front kick: leg swings forward, knee chambers on the way
        _add(q, "hip_flex", ctx, a * pulse * 75 * D, s)
        _add(q, "knee", ctx, a * 4 * pulse * (1 - pulse) * 45 * D, s)
        _both(q, "sh_abd", ctx, a * e * 15 * D)
    elif label == 3:  # squat: hips and knees bend together, arms come forward for balance
        _both(q, "hip_flex", ctx, a * pulse * 70 * D)
        _both(q, "knee", ctx, a * pulse * 130 * D)
        _add(q, "torso_pitch", ctx, a * pulse * 25 * D)
        _both(q, "sh_flex", ctx, a * pulse * 60 * D)
    elif label == 4:  # jump: crouch, take off with an arm swing, land
        _add(q, "root_y", ctx, a * e * up**1.5 * 0.22)
        _both(q, "hip_flex", ctx, a * e * down * 35 * D)
        _both(q, "knee", ctx, a * e * down * 70 * D)
        _both(q, "sh_flex", ctx, a * e * (up * 70 - down * 25) * D)
    elif label == 5:  # bow: the trunk bends forward and comes back
        _add(q, "torso_pitch", ctx, a * pulse * 60 * D)
        _add(q, "head_pitch", ctx, a * pulse * 20 * D)
    elif label == 6:  # turn: rotate about the vertical axis with small steps, stay turned
        ramp = np.clip(ctx.p, 0, 1)
        _add(q, "root_yaw", ctx, ctx.turn * a * (3 * ramp**2 - 2 * ramp**3) * 150 * D)
        step = np.maximum(np.sin(2 * np.pi * 3 * ctx.p), 0) * e
        _add(q, "hip_flex", ctx, step * 20 * D, s)
        _add(q, "knee", ctx, step * 35 * D, s)
        step = np.maximum(-np.sin(2 * np.pi * 3 * ctx.p), 0) * e
        _add(q, "hip_flex", ctx, step * 20 * D, o)
        _add(q, "knee", ctx, step * 35 * D, o)
    elif label == 7:  # clap: arms forward, hands swing together and apart
        _both(q, "sh_flex", ctx, a * e * 70 * D)
        _both(q, "elbow", ctx, a * e * 35 * D)
        _both(q, "sh_horiz", ctx, a * e * (-25 + 45 * (1 + osc) / 2) * D)
    elif label == 8:  # side kick: leg lifts sideways, trunk leans away
        _add(q, "hip_abd", ctx, a * pulse * 55 * D, s)
        _add(q, "torso_roll", ctx, np.where(s == 0, 1.0, -1.0)[:, None] * a * pulse * 15 * D)
    elif label == 9:  # jumping jacks: arms up sideways and legs apart, hopping
        _both(q, "sh_abd", ctx, a * pulse * 150 * D)
        _both(q, "hip_abd", ctx, a * pulse * 18 * D)
        _add(q, "root_y", ctx, a * e * np.abs(osc) ** 4 * 0.06)
    elif label == 10:  # march in place: alternate knee lifts, arms swing opposite
        for side, lift, swing in ((s, up, down - up), (o, down, up - down)):
            _add(q, "hip_flex", ctx, a * e * lift * 50 * D, side)
            _add(q, "knee", ctx, a * e * lift * 70 * D, side)
            _add(q, "sh_flex", ctx, a * e * swing * 25 * D, side)
    elif label == 11:  # two-hand wave: both arms raised, forearms swinging together
        _both(q, "sh_abd", ctx, a * e * 145 * D)
        _both(q, "elbow", ctx, a * e * (35 + 35 * osc) * D)
    elif label == 12:  # side bend: one arm over the head, trunk bends to the other side and back
        _add(q, "sh_abd", ctx, a * e * 150 * D, s)
        _add(q, "torso_roll", ctx, np.where(s == 0, 1.0, -1.0)[:, None] * a * pulse * 30 * D)
    elif label == 13:  # stretch up: both arms raised forward over the head and lowered
        _both(q, "sh_flex", ctx, a * pulse * 165 * D)
        _add(q, "head_pitch", ctx, -a * pulse * 15 * D)
    else:
        raise ValueError(f"no motion pattern for class {label}")
