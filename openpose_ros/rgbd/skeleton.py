"""What the RGB-D estimator knows of the body: limb radii and bones, as data.

``LIMB_RADIUS_M`` moves a joint from the surface the depth camera sees to the joint's centre;
``BONES`` bounds how far a joint can lie from its parent (``bone_steps``) and says along which
2D segment a joint's own limb is seen (``bone_pairs``, ``LIMB_FRACTIONS``).
"""

from __future__ import annotations

import functools

import numpy as np

from openpose_ros.layouts import Layout

__all__ = ["LIMB_RADIUS_M", "HAND_RADIUS_M", "BONES", "LIMB_FRACTIONS", "radii", "bone_steps",
           "bone_pairs"]

#: Depth from the visible surface to the joint centre, metres, by joint name (cameras.md: 3-4 cm
#: at the wrist, 5-7 cm at the elbow and knee, 8-12 cm at the hips and torso). Face landmarks and
#: joints not named here lie on the surface (0).
LIMB_RADIUS_M = {
    "Neck": 0.06, "Chest": 0.10, "Head": 0.05,
    "RShoulder": 0.06, "LShoulder": 0.06, "RElbow": 0.05, "LElbow": 0.05,
    "RWrist": 0.035, "LWrist": 0.035, "MidHip": 0.10, "RHip": 0.09, "LHip": 0.09,
    "RKnee": 0.06, "LKnee": 0.06, "RAnkle": 0.04, "LAnkle": 0.04,
    "LBigToe": 0.02, "LSmallToe": 0.02, "LHeel": 0.03, "RBigToe": 0.02, "RSmallToe": 0.02,
    "RHeel": 0.03, "REar": 0.01, "LEar": 0.01,
}
#: Finger joints are about 1 cm thick.
HAND_RADIUS_M = 0.01
#: The body's bones walked out from the torso, parents first: (joint, parent, longest bone in
#: metres, a tall adult's with a margin). A joint must lie within its bone of its parent.
BONES = (
    ("RElbow", "RShoulder", 0.38), ("LElbow", "LShoulder", 0.38),
    ("RKnee", "RHip", 0.52), ("LKnee", "LHip", 0.52), ("Nose", "Neck", 0.30),
    ("RWrist", "RElbow", 0.33), ("LWrist", "LElbow", 0.33),
    ("RAnkle", "RKnee", 0.50), ("LAnkle", "LKnee", 0.50),
    ("REye", "Nose", 0.08), ("LEye", "Nose", 0.08), ("REar", "Nose", 0.15), ("LEar", "Nose", 0.15),
    ("RBigToe", "RAnkle", 0.25), ("RSmallToe", "RAnkle", 0.25), ("RHeel", "RAnkle", 0.12),
    ("LBigToe", "LAnkle", 0.25), ("LSmallToe", "LAnkle", 0.25), ("LHeel", "LAnkle", 0.12),
)
#: Where along the 2D segment parent -> joint the joint's own limb is sampled (0 = parent): the
#: outer half, short of the joint itself, whose keypoint may lie just off the limb.
LIMB_FRACTIONS = np.array([0.5, 0.6, 0.7, 0.8])


def radii(layout: Layout) -> np.ndarray:
    """``[K]`` surface-to-centre depth (m) of each of ``layout``'s keypoints."""
    if layout.name == "HAND_21":
        return np.full(layout.num_parts, HAND_RADIUS_M)
    return np.array([LIMB_RADIUS_M.get(n, 0.0) for n in layout.part_names])


@functools.lru_cache(maxsize=None)
def bone_steps(layout: Layout) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``BONES`` of ``layout`` in steps out from the torso: per step ``(joints, parents,
    lengths m)``, every parent in an earlier step (or a torso joint). Cached: the arrays are
    shared, read only."""
    level: dict[str, int] = {}
    steps: dict[int, list] = {}
    for child, parent, length in BONES:
        if layout.has(child) and layout.has(parent):
            level[child] = level.get(parent, 0) + 1
            steps.setdefault(level[child], []).append(
                (layout.index(child), layout.index(parent), length))
    return [tuple(np.array(v, dtype=t) for v, t in zip(zip(*steps[k]), (np.intp, np.intp, float)))
            for k in sorted(steps)]


def bone_pairs(layout: Layout, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(person [B], joint [B], parent [B])`` of every bone of ``layout`` whose two keypoints are
    usable (``ok [P, K]``)."""
    pairs = [(layout.index(c), layout.index(p)) for c, p, _ in BONES
             if layout.has(c) and layout.has(p)]
    if not pairs:
        return (np.zeros(0, np.intp),) * 3
    child, parent = (np.array(v, np.intp) for v in zip(*pairs))
    person, bone = np.nonzero(ok[:, child] & ok[:, parent])
    return person, child[bone], parent[bone]
