"""REP-155's body frame from 3D joints: origin at the hip midpoint, x forward from the torso,
z up along it (y to the person's left).

Pure geometry on one person's joints in metres, in whatever frame they are given (a camera's
optical frame or a world frame): the axes come from the body itself, so "up" is the torso's up
and "forward" the way the chest faces, whatever the parent frame's convention.
"""

from __future__ import annotations

import numpy as np

from openpose_ros.layouts import Layout

__all__ = ["hip_midpoint", "torso_rotation"]

_MIN_LENGTH_M = 1e-3


def _joint(body: np.ndarray, valid: np.ndarray, layout: Layout, name: str) -> np.ndarray | None:
    if not layout.has(name):
        return None
    j = layout.index(name)
    return body[j] if valid[j] else None


def _mid(body, valid, layout, a: str, b: str) -> np.ndarray | None:
    pa, pb = _joint(body, valid, layout, a), _joint(body, valid, layout, b)
    return None if pa is None or pb is None else (pa + pb) / 2.0


def hip_midpoint(body: np.ndarray, valid: np.ndarray, layout: Layout) -> np.ndarray | None:
    """``[3]`` midpoint of the hips (MidHip where the layout has it, else the mean of RHip and
    LHip); None when it was not reconstructed."""
    mid = _joint(body, valid, layout, "MidHip")
    return mid if mid is not None else _mid(body, valid, layout, "RHip", "LHip")


def torso_rotation(body: np.ndarray, valid: np.ndarray, layout: Layout) -> np.ndarray | None:
    """3x3 rotation whose columns are the body's x (forward), y (left), z (up) axes in the
    joints' frame, or None when the torso is not known well enough.

    z: hips -> neck (Neck, else the shoulders' midpoint); y: right -> left shoulder (else hip),
    made orthogonal to z; x = y cross z, the way the chest faces.
    """
    body = np.asarray(body, dtype=np.float64)
    hip = hip_midpoint(body, valid, layout)
    neck = _joint(body, valid, layout, "Neck")
    if neck is None:
        neck = _mid(body, valid, layout, "RShoulder", "LShoulder")
    if hip is None or neck is None:
        return None
    z = neck - hip
    if np.linalg.norm(z) < _MIN_LENGTH_M:
        return None
    z /= np.linalg.norm(z)
    for right, left in (("RShoulder", "LShoulder"), ("RHip", "LHip")):
        pr, pl = _joint(body, valid, layout, right), _joint(body, valid, layout, left)
        if pr is None or pl is None:
            continue
        y = (pl - pr) - np.dot(pl - pr, z) * z
        if np.linalg.norm(y) >= _MIN_LENGTH_M:
            y /= np.linalg.norm(y)
            return np.column_stack([np.cross(y, z), y, z])
    return None
