"""Evaluation helpers shared by the tests and the benchmark (ROS-free, numpy only).

- ``synthetic_views``: 2D detections made from 3D ground truth through real camera models, with
  pixel noise, dropped joints and one wrong detection per person, in shuffled detector order;
  with ``parts`` (``synthetic_parts``: hands and a face placed on a body) whole-body detections;
- ``mpjpe_mm``: mean per-joint position error after matching people one to one;
- ``detection_errors`` and ``kept_view_error``: reprojection error of 3D people against real 2D
  detections, with the view selection Pose2Sim uses for its own reported error, applied the same
  way to any method's 3D.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from openpose_ros.layouts import FACE_70, HAND_21, Layout
from openpose_ros.people import People
from openpose_ros.threed.cameras import Rig

__all__ = [
    "spread_cameras",
    "synthetic_views",
    "synthetic_parts",
    "match_people",
    "mpjpe_mm",
    "detection_errors",
    "kept_view_error",
]


def spread_cameras(rig: Rig, points: np.ndarray, count: int, min_visible: float = 0.8) -> list[str]:
    """``count`` cameras that see at least ``min_visible`` of ``points [..., 3]``, spread around them.

    Farthest-point sampling of viewing directions, starting from the camera that sees the most.
    """
    finite = np.isfinite(points).all(-1)
    seen = np.array([c.in_image(c.project(points))[finite].mean() for c in rig.cameras])
    order = [int(i) for i in np.argsort(-seen, kind="stable") if seen[i] >= min_visible]
    if len(order) < count:
        raise ValueError(f"only {len(order)} cameras see {min_visible:.0%} of the points")
    centre = points[finite].mean(axis=0)
    dirs = np.array([rig.cameras[i].center - centre for i in order])
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    chosen = [0]
    while len(chosen) < count:
        angle = np.arccos(np.clip(dirs @ dirs[chosen].T, -1, 1)).min(axis=1)
        angle[chosen] = -1
        chosen.append(int(np.argmax(angle)))
    return [rig.names[order[i]] for i in chosen]


def _mirror(layout: Layout) -> np.ndarray:
    """Joint permutation swapping left and right (the typical wrong detection)."""
    def other(name: str) -> str:
        if name[0] in "LR" and name[1].isupper():
            return ("R" if name[0] == "L" else "L") + name[1:]
        return name
    return np.array([layout.index(other(n)) for n in layout.part_names])


def synthetic_parts(truth: np.ndarray, layout: Layout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """3D hands (``HAND_21``) and faces (``FACE_70``) for bodies ``truth [P, J, 3]`` (metres).

    Each hand starts at its wrist and fans five four-joint fingers (3-13 cm) along the forearm;
    the face is 70 points within a 14 x 18 x 6 cm box around the nose. NaN where the wrist,
    elbow or nose is missing. Returns ``{"left_hand", "right_hand", "face"}`` -> ``[P, K, 3]``.
    """
    out = {}
    for side, name in (("L", "left_hand"), ("R", "right_hand")):
        wrist = truth[:, layout.index(f"{side}Wrist")]
        arm = wrist - truth[:, layout.index(f"{side}Elbow")]
        arm /= np.linalg.norm(arm, axis=-1, keepdims=True)
        across = np.cross(arm, [0.0, 0.0, 1.0]) + 1e-3  # any direction across the forearm
        across /= np.linalg.norm(across, axis=-1, keepdims=True)
        hand = np.empty((len(truth), HAND_21.num_parts, 3))
        hand[:, 0] = wrist
        for f in range(5):
            direction = arm + np.tan(np.radians(15.0 * (f - 2))) * across
            direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
            for j in range(4):
                hand[:, 1 + 4 * f + j] = wrist + (0.03 + 0.025 * (j + 1)) * direction
        out[name] = hand
    nose = truth[:, layout.index("Nose")]
    out["face"] = nose[:, None] + rng.uniform([-0.07, -0.09, -0.03], [0.07, 0.09, 0.03],
                                              (len(truth), FACE_70.num_parts, 3))
    return out


def _detect(cam, points: np.ndarray, rng: np.random.Generator, noise_px: float, drop: float) -> np.ndarray:
    """``[P, K, 3]`` noisy 2D keypoints (x, y, score) of world ``points [P, K, 3]`` in ``cam``."""
    px = cam.project(points)
    seen = cam.in_image(px) & (rng.random(px.shape[:2]) >= drop)
    px = px + rng.normal(0.0, noise_px, px.shape)
    scores = np.where(seen, rng.uniform(0.5, 1.0, seen.shape), 0.0)
    return np.concatenate([np.where(seen[..., None], px, np.nan), scores[..., None]], axis=-1)


def synthetic_views(rig: Rig, layout: Layout, truth: np.ndarray, rng: np.random.Generator, *,
                    noise_px: float = 2.0, drop: float = 0.2, corrupt: bool = True,
                    parts: dict[str, np.ndarray] | None = None,
                    ) -> tuple[dict[str, People], dict[str, np.ndarray]]:
    """2D people seen by every camera of ``rig`` from ground truth ``truth [P, J, 3]`` (metres, NaN = none).

    Projection includes lens distortion; joints outside the image or behind the camera are
    missing; Gaussian noise of ``noise_px`` per axis; each joint dropped with probability ``drop``;
    scores uniform in [0.5, 1]. With ``corrupt``, one random camera per person sees a wrong
    detection instead: left and right swapped and shifted 60-120 px (its hands swapped and its
    face shifted alike). People with no body joint left in a view are absent there; the rest are
    shuffled. ``parts`` (``synthetic_parts``) adds hands and faces, detected the same way.

    Returns ``views`` (camera -> People) and ``order`` (camera -> ground-truth index of each person).
    """
    views, order = {}, {}
    parts = parts or {}
    bad_view = rng.integers(len(rig), size=len(truth))
    mirror = _mirror(layout)
    for v, cam in enumerate(rig.cameras):
        body = _detect(cam, truth, rng, noise_px, drop)
        seen_parts = {name: _detect(cam, pts, rng, noise_px, drop) for name, pts in parts.items()}
        for p in np.flatnonzero(corrupt & (bad_view == v)):
            angle = rng.uniform(0, 2 * np.pi)
            shift = rng.uniform(60, 120) * np.array([np.cos(angle), np.sin(angle)])
            body[p] = body[p, mirror]
            body[p, :, :2] += shift
            if "left_hand" in seen_parts and "right_hand" in seen_parts:
                left = seen_parts["left_hand"][p].copy()
                seen_parts["left_hand"][p] = seen_parts["right_hand"][p]
                seen_parts["right_hand"][p] = left
            for kp in seen_parts.values():
                kp[p, :, :2] += shift
        present = rng.permutation(np.flatnonzero((body[..., 2] > 0).any(axis=1)))
        views[cam.name] = People(layout, cam.image_size, body[present], np.ones(len(present)),
                                 **{name: kp[present] for name, kp in seen_parts.items()})
        order[cam.name] = present
    return views, order


def crowd_on_floor(poses: np.ndarray, n: int, rng: np.random.Generator, *,
                   extent: float = 1.3, min_gap: float = 0.7) -> np.ndarray:
    """``n`` people from ``poses`` ``[K, J, 3]`` (cycled), each moved to a random floor spot
    (x, z within +-``extent``; y is vertical, as in Panoptic) at least ``min_gap`` apart."""
    spots: list[np.ndarray] = []
    while len(spots) < n:
        p = rng.uniform(-extent, extent, 2)
        if all(np.hypot(*(p - q)) > min_gap for q in spots):
            spots.append(p)
    base = poses[np.arange(n) % len(poses)]
    shift = np.zeros((n, 3))
    shift[:, [0, 2]] = np.array(spots) - np.nanmean(base, axis=1)[:, [0, 2]]
    return base + shift[:, None]


def match_people(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of poses ``a [A, J, 3]`` and ``b [B, J, 3]`` by mean shared-joint distance."""
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    common = np.isfinite(d)
    with np.errstate(invalid="ignore"):
        cost = np.where(common.any(-1), np.where(common, d, 0).sum(-1) / common.sum(-1), 1e9)
    return linear_sum_assignment(cost)


def mpjpe_mm(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(MPJPE in mm over the joints both have, fraction of ground-truth joints reconstructed)."""
    rows, cols = match_people(estimate, truth)
    d = np.concatenate([np.linalg.norm(estimate[r] - truth[c], axis=-1) for r, c in zip(rows, cols)])
    found = np.isfinite(d).sum() / max(np.isfinite(truth[..., 0]).sum(), 1)
    return float(np.nanmean(d) * 1000.0), float(found)


def detection_errors(rig: Rig, views: dict[str, People], points: np.ndarray, *,
                     min_score: float = 0.3, gate_px: float = 100.0) -> np.ndarray:
    """``[P, J, V]`` pixel distance from each 3D joint's projection to its 2D detection (NaN = none).

    In each view a 3D person is compared with the detected person its joints land nearest to
    (median over joints); a view where even that one is farther than ``gate_px`` did not see the
    person. Joints detected with a score under ``min_score`` do not count.
    """
    out = np.full(points.shape[:2] + (len(rig),), np.nan)
    for v, cam in enumerate(rig.cameras):
        people = views.get(cam.name)
        if people is None or not len(people) or not len(points):
            continue
        d = np.linalg.norm(cam.project(points)[:, None] - people.body[None, :, :, :2], axis=-1)
        d = np.where(people.body[None, :, :, 2] >= min_score, d, np.nan)  # [P, D, J]
        with warnings.catch_warnings():  # people sharing no joint give all-NaN rows: no match
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nan_to_num(np.nanmedian(d, axis=-1), nan=np.inf)
        best = np.argmin(med, axis=1)
        for p, k in enumerate(best):
            if med[p, k] <= gate_px:
                out[p, :, v] = d[p, k]
    return out


def kept_view_error(errors: np.ndarray, threshold_px: float = 15.0, min_views: int = 2) -> np.ndarray:
    """``[...]`` mean error over the views Pose2Sim would keep, from ``errors [..., V]``.

    Pose2Sim drops cameras while a point's mean reprojection error exceeds its threshold (15 px)
    and more than ``min_views`` remain; here the worst view goes first. NaN with fewer than
    ``min_views`` finite views. The same rule is applied to every method's 3D.
    """
    e = np.sort(np.where(np.isfinite(errors), errors, np.inf), axis=-1)  # ascending, missing last
    count = np.isfinite(e).sum(-1)
    csum = np.cumsum(np.where(np.isfinite(e), e, 0.0), axis=-1)
    k = np.arange(1, e.shape[-1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = csum / k  # mean of the k best views
    allowed = (k >= min_views) & (k <= count[..., None])
    ok = allowed & (means <= threshold_px)
    # keep the most views whose mean passes; else the fewest allowed (min_views)
    last_ok = np.where(ok.any(-1), e.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1), min_views - 1)
    mean = np.take_along_axis(means, last_ok[..., None], axis=-1)[..., 0]
    return np.where(count >= min_views, mean, np.nan)


def agreement_with_reference(rig: Rig, names: tuple[str, ...] | list[str], ours: np.ndarray,
                             views: dict[int, dict[str, People]], theirs: np.ndarray,
                             layout: Layout) -> tuple[float, float, float]:
    """How one person's 3D track agrees with a reference 3D and with independent 2D detections.

    Args:
        names: joint names of ``ours``; ours: float ``[F, K, 3]`` world metres (NaN = missing).
        views: frame -> camera -> 2D people (``layout``) to reproject onto, e.g. Pose2Sim's
            OpenPose JSON; theirs: float ``[F, layout.num_parts, 3]`` the reference's 3D.
    Returns:
        (share of frames with a reconstructed joint, mean distance in mm over the joints both
        name and reconstruct, mean reprojection error in px onto ``views`` with the view selection
        of ``kept_view_error``).
    """
    from openpose_ros.evaluation.datasets import to_layout

    mine = to_layout(ours, tuple(names), layout)  # [F, J, 3]
    found = np.isfinite(mine[..., 0]).any(axis=1)
    d = np.linalg.norm(mine - theirs, axis=-1)
    px = []
    for f in range(len(mine)):
        if found[f] and f in views:
            px.append(kept_view_error(detection_errors(rig, views[f], mine[f:f + 1])[0]))
    px = np.concatenate(px) if px else np.array([np.nan])
    return float(found.mean()), float(np.nanmean(d) * 1000.0), float(np.nanmean(px))
