"""RGB-D frames rendered from real 3D poses, for measuring the RGB-D node's core against truth.

A scene is a virtual camera (real lens distortion, 1-5 m from each person), people whose joints
come from real 3D poses (CMU Panoptic bodies, Pose2Sim trajectories; ``datasets`` reads them)
turned into capsules (limbs, torso) and spheres (head, hands), a floor and a wall behind them.
The depth image is ray-cast exactly through the camera's model (z along the optical axis), then
made to look like a sensor's: Gaussian noise with sigma ``noise_per_m2 * z**2``, ``missing`` of
the pixels lost (0 / NaN), and mixed ("flying") pixels between foreground and background at
depth edges. The 2D people are the ground truth projected with distortion plus ``noise_px``
Gaussian noise, with a share ``outside`` of the joints moved just off their person's silhouette
(onto whatever lies behind), as a detector's keypoints on a limb's edge do.

World frame: metres, z up, floor at z = 0. Camera frames: OpenCV optical (x right, y down,
z forward). Only NumPy and OpenCV; never imported by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openpose_ros.layouts import BODY_25, Layout
from openpose_ros.people import People
from openpose_ros.threed.cameras import Camera

__all__ = ["BODY_CAPSULES", "RgbdFrame", "capsules_of", "look_at", "render_depth",
           "sensor_depth", "keypoints_2d", "visible_joints", "pose_library", "synthetic_frame", "z_up_panoptic"]

#: Body parts as capsules between two joints (name, name, radius m); the head and hands are
#: spheres and the neck a capsule up to the head's centre, added by ``capsules_of`` (facial
#: keypoints such as the nose tip lie on the head's surface, not inside a part of their own).
BODY_CAPSULES = (
    ("Neck", "MidHip", 0.11), ("RShoulder", "LShoulder", 0.06), ("RHip", "LHip", 0.09),
    ("RShoulder", "RElbow", 0.05), ("RElbow", "RWrist", 0.04),
    ("LShoulder", "LElbow", 0.05), ("LElbow", "LWrist", 0.04),
    ("RHip", "RKnee", 0.065), ("RKnee", "RAnkle", 0.045),
    ("LHip", "LKnee", 0.065), ("LKnee", "LAnkle", 0.045),
    ("RAnkle", "RBigToe", 0.035), ("RAnkle", "RSmallToe", 0.03), ("RAnkle", "RHeel", 0.035),
    ("LAnkle", "LBigToe", 0.035), ("LAnkle", "LSmallToe", 0.03), ("LAnkle", "LHeel", 0.035),
)
HEAD_RADIUS_M = 0.095
NECK_RADIUS_M = 0.05
HAND_RADIUS_M = 0.045


def z_up_panoptic(points: np.ndarray) -> np.ndarray:
    """Panoptic world (y down) to this module's z-up world: (x, y, z) -> (x, z, -y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def capsules_of(joints: np.ndarray, layout: Layout = BODY_25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a [C, 3], b [C, 3], radius [C])`` of one person's ``joints [J, 3]`` (NaN joints skipped).

    Spheres are capsules with a == b: the head around the ears' midpoint (else the nose), a hand
    beyond each wrist along the forearm; the neck runs from the Neck joint to the head's centre.
    """
    def at(name):
        return joints[layout.index(name)] if layout.has(name) else np.full(3, np.nan)

    a, b, r = [], [], []
    for n1, n2, radius in BODY_CAPSULES:
        p, q = at(n1), at(n2)
        if np.isfinite(p).all() and np.isfinite(q).all():
            a.append(p), b.append(q), r.append(radius)
    ears = [at("REar"), at("LEar")]
    head = np.mean(ears, axis=0) if all(np.isfinite(e).all() for e in ears) else at("Nose")
    if np.isfinite(head).all():
        a.append(head), b.append(head), r.append(HEAD_RADIUS_M)
        if np.isfinite(at("Neck")).all():
            a.append(at("Neck")), b.append(head), r.append(NECK_RADIUS_M)
    for side in "RL":
        wrist, elbow = at(f"{side}Wrist"), at(f"{side}Elbow")
        if np.isfinite(wrist).all() and np.isfinite(elbow).all():
            hand = wrist + 0.09 * (wrist - elbow) / max(np.linalg.norm(wrist - elbow), 1e-6)
            a.append(hand), b.append(hand), r.append(HAND_RADIUS_M)
    if not a:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0)
    return np.array(a), np.array(b), np.array(r)


def look_at(name: str, K: np.ndarray, dist, model: str, size: tuple[int, int],
            center: np.ndarray, target: np.ndarray) -> Camera:
    """A camera at ``center`` looking at ``target`` (world, z up), image x to the right."""
    f = np.asarray(target, float) - np.asarray(center, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(f, x)
    R = np.stack([x, y, f])
    return Camera(name, K, np.asarray(dist, float), model, R, -R @ np.asarray(center, float), size)


def _pixel_rays(camera: Camera) -> np.ndarray:
    """``[H, W, 3]`` unit viewing rays (camera frame) of every pixel centre, distortion included."""
    w, h = camera.image_size
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    ideal = camera.undistort(np.stack([u, v], axis=-1))
    n = np.concatenate([ideal, np.ones((h, w, 1))], axis=-1) @ np.linalg.inv(camera.K).T
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _hit_capsule(rays: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """``[N]`` ray length to the capsule a-b (camera frame; rays unit, from the origin); inf: miss."""
    ba, oa = b - a, -a
    baba, baoa, oaoa = ba @ ba, ba @ oa, oa @ oa
    bard, rdoa = rays @ ba, rays @ oa
    t = np.full(len(rays), np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        if baba > 1e-12:
            qa = baba - bard * bard
            qb = baba * rdoa - baoa * bard
            qc = baba * oaoa - baoa * baoa - r * r * baba
            h = qb * qb - qa * qc
            tc = (-qb - np.sqrt(h)) / qa
            y = baoa + tc * bard
            side = (h >= 0) & (y > 0) & (y < baba) & (tc > 0)
            t = np.where(side, tc, t)
            cap = np.where((y <= 0)[:, None], oa, -b)  # origin minus the nearer end
        else:
            cap = np.broadcast_to(oa, rays.shape)
        b2 = (rays * cap).sum(axis=1)
        c2 = (cap * cap).sum(axis=1) - r * r
        h2 = b2 * b2 - c2
        ts = -b2 - np.sqrt(h2)
        t = np.where(np.isinf(t) & (h2 >= 0) & (ts > 0), ts, t)
    return t


def render_depth(camera: Camera, people: np.ndarray, *, floor_z: float = 0.0,
                 wall: tuple[np.ndarray, float] | None = None, layout: Layout = BODY_25,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Exact depth of a scene seen by ``camera``.

    Args:
        people: ``[P, J, 3]`` world joints (metres, z up; NaN = missing).
        floor_z: height of the floor plane (None: no floor).
        wall: (unit normal n, offset d) of the plane ``n . X = d``, or None.

    Returns:
        float32 ``[H, W]`` z (metres, camera frame; inf where nothing is hit), int16 ``[H, W]``
        label (person index, -2 floor, -3 wall, -1 nothing).
    """
    w, h = camera.image_size
    rays = _pixel_rays(camera).reshape(-1, 3)
    dist = np.full(len(rays), np.inf)
    label = np.full(len(rays), -1, np.int16)
    world_rays = rays @ camera.R  # R^T applied to each ray
    centre = camera.center
    planes = []
    if floor_z is not None:
        planes.append((np.array([0.0, 0.0, 1.0]), floor_z, -2))
    if wall is not None:
        planes.append((np.asarray(wall[0], float), float(wall[1]), -3))
    for normal, offset, tag in planes:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (offset - normal @ centre) / (world_rays @ normal)
        hit = (t > 0) & (t < dist)
        dist[hit], label[hit] = t[hit], tag
    u_z = rays[:, 2]
    for p, joints in enumerate(people):
        a, b, r = capsules_of(camera.to_camera(joints), layout)
        for k in range(len(r)):
            ends = np.stack([a[k], b[k]])
            if (ends[:, 2] < 0.05).any():
                continue
            px = ends[:, :2] / ends[:, 2:] * camera.K[[0, 1], [0, 1]] + camera.K[:2, 2]
            pad = r[k] * camera.K[0, 0] / ends[:, 2].min() + 8 + 0.02 * max(w, h)
            x0, y0 = np.floor(px.min(axis=0) - pad).astype(int)
            x1, y1 = np.ceil(px.max(axis=0) + pad).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
            if x0 > x1 or y0 > y1:
                continue
            idx = (np.arange(y0, y1 + 1)[:, None] * w + np.arange(x0, x1 + 1)[None]).ravel()
            t = _hit_capsule(rays[idx], a[k], b[k], r[k])
            hit = t < dist[idx]
            dist[idx[hit]], label[idx[hit]] = t[hit], p
    z = np.where(np.isfinite(dist), dist * u_z, np.inf).astype(np.float32)
    return z.reshape(h, w), label.reshape(h, w)


def sensor_depth(z: np.ndarray, rng: np.random.Generator, *, noise_per_m2: float = 0.002,
                 missing: float = 0.1, mixed: float = 0.6, edge_m: float = 0.1,
                 max_range_m: float = 8.0) -> np.ndarray:
    """A depth sensor's view of exact ``z``: float32 metres, NaN = no measurement.

    Noise sigma ``noise_per_m2 * z**2``; a random share ``missing`` of pixels lost; at depth edges
    (a 3x3 neighbourhood spanning more than ``edge_m``) a share ``mixed`` of the pixels take a
    random mix of the nearest and farthest depth around them.
    """
    import cv2

    clean = np.where(np.isfinite(z) & (z < max_range_m), z, np.nan).astype(np.float32)
    filled = np.nan_to_num(clean, nan=max_range_m)
    kernel = np.ones((3, 3), np.uint8)
    near, far = cv2.erode(filled, kernel), cv2.dilate(filled, kernel)
    edge = (far - near > edge_m) & (rng.random(z.shape) < mixed)
    alpha = rng.random(z.shape).astype(np.float32)
    out = np.where(edge, alpha * near + (1 - alpha) * far, clean)
    out = out + rng.normal(0.0, 1.0, z.shape).astype(np.float32) * noise_per_m2 * out ** 2
    out[(rng.random(z.shape) < missing) | (out >= max_range_m) | ~(out > 0)] = np.nan
    return out.astype(np.float32)


def keypoints_2d(camera: Camera, people: np.ndarray, label: np.ndarray, rng: np.random.Generator,
                 *, noise_px: float = 2.0, outside: float = 0.5, reach_px: float | None = None,
                 layout: Layout = BODY_25) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like 2D keypoints ``[P, J, 3]`` (x, y, score; NaN/0 = missing) of world ``people``.

    Each keypoint is the projection plus ``noise_px`` Gaussian noise. A keypoint whose person's
    silhouette edge (in ``label``) lies within ``reach_px`` of it (default: two standard
    deviations of the noise, at least 1 px: an edge the detector's error can cross) falls just
    outside with probability ``outside``: 1-3 px past the nearest edge. Also returns bool
    ``[P, J]``: the keypoints so moved.
    """
    h, w = label.shape
    reach_px = max(2.0 * noise_px if reach_px is None else reach_px, 1.0)
    px = camera.project(people) + rng.normal(0.0, noise_px, people.shape[:2] + (2,))
    seen = camera.in_image(px, border=1.0)
    angles = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # [D, 2]
    steps = np.arange(1, int(np.ceil(reach_px)) + 1, dtype=np.float64)  # [S]
    ray = px[:, :, None, None, :] + dirs[:, None, :] * steps[:, None]  # [P, J, D, S, 2]
    with np.errstate(invalid="ignore"):
        ix, iy = np.rint(ray[..., 0]), np.rint(ray[..., 1])
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    at = label[np.where(inside, iy, 0).astype(int), np.where(inside, ix, 0).astype(int)]
    off = ~inside | (at != np.arange(len(people))[:, None, None, None])  # [P, J, D, S]
    first = np.where(off.any(axis=-1), np.argmax(off, axis=-1), len(steps))  # first step off
    nearest = np.argmin(first, axis=-1)  # [P, J] direction to the nearest edge
    dist = np.take_along_axis(first, nearest[..., None], -1)[..., 0]
    moved = seen & (dist < len(steps)) & (rng.random(seen.shape) < outside)
    own = label[np.clip(np.rint(np.nan_to_num(px[..., 1])), 0, h - 1).astype(int),
                np.clip(np.rint(np.nan_to_num(px[..., 0])), 0, w - 1).astype(int)]
    moved &= own == np.arange(len(people))[:, None]  # on its silhouette before the move
    shift = (np.take(steps, np.minimum(dist, len(steps) - 1)) + rng.uniform(1.0, 3.0, dist.shape))
    px = np.where(moved[..., None], px + shift[..., None] * dirs[nearest], px)
    seen &= camera.in_image(px, border=1.0)
    scores = np.where(seen, rng.uniform(0.4, 1.0, seen.shape), 0.0)
    kp = np.concatenate([np.where(seen[..., None], px, np.nan), scores[..., None]], axis=-1)
    return kp.astype(np.float32), moved & seen


def pose_library(shared_data) -> list[np.ndarray]:
    """Real BODY_25 poses ``[25, 3]`` (z up, lowest joint 4 cm above z = 0, centred at x = y = 0):
    the CMU Panoptic band1 bodies and every 5th frame of Pose2Sim's trials."""
    from openpose_ros.evaluation.datasets import (
        PANOPTIC_JOINTS19, load_panoptic_bodies, load_trc, to_layout, trc_to_world)

    multiview = shared_data / "multiview"
    poses = []
    for f in sorted((multiview / "panoptic_160906_band1_gt3d" / "hdPose3d_stage1_coco19").glob("*.json")):
        _, joints, conf = load_panoptic_bodies(f)
        poses += list(z_up_panoptic(to_layout(np.where((conf > 0.1)[..., None], joints, np.nan),
                                              PANOPTIC_JOINTS19)))
    for trc in sorted((multiview / "pose2sim_demo").glob("*/pose-3d/*.trc")):
        if "filt" in trc.name:
            continue
        names, pts = load_trc(trc)
        poses += list(to_layout(trc_to_world(pts), names)[::5])
    out = []
    for pose in poses:
        if np.isfinite(pose).all(-1).sum() < 10:
            continue
        pose = pose - np.append(np.nanmean(pose[:, :2], axis=0), np.nanmin(pose[:, 2]) - 0.04)
        out.append(pose)
    return out


@dataclass(frozen=True)
class RgbdFrame:
    """One rendered frame: ``camera`` (colour = registered depth), ``depth`` float32 ``[H, W]``
    metres (NaN = none), ``people`` (2D), ``truth`` ``[P, J, 3]`` joints in the camera frame,
    ``moved`` ``[P, J]`` keypoints placed off the silhouette, ``visible`` ``[P, J]`` joints whose
    own body part is what the camera sees at their projection (not hidden behind another body
    part or person), ``world`` ``[P, J, 3]``, ``label``."""

    camera: Camera
    depth: np.ndarray
    people: People
    truth: np.ndarray
    moved: np.ndarray
    visible: np.ndarray
    world: np.ndarray
    label: np.ndarray


def _part_radius(layout: Layout) -> np.ndarray:
    """``[J]`` the thickest capsule that ends at each joint (0 for none: face landmarks)."""
    r = np.zeros(layout.num_parts)
    for n1, n2, radius in BODY_CAPSULES:
        for n in (n1, n2):
            if layout.has(n):
                r[layout.index(n)] = max(r[layout.index(n)], radius)
    return r


def visible_joints(camera: Camera, world: np.ndarray, z: np.ndarray, label: np.ndarray, *,
                   margin_m: float = 0.04, layout: Layout = BODY_25) -> np.ndarray:
    """bool ``[P, J]``: the exact render at a joint's projection is its own person, at most its
    part's radius + ``margin_m`` in front of the joint (its own limb's surface, not an arm or a
    person in front of it)."""
    h, w = z.shape
    px = np.rint(camera.project(world))
    inside = camera.in_image(px)
    ix = np.where(inside, px[..., 0], 0).astype(int)
    iy = np.where(inside, px[..., 1], 0).astype(int)
    zj = camera.to_camera(world)[..., 2]
    own = label[iy, ix] == np.arange(len(world))[:, None]
    with np.errstate(invalid="ignore"):
        return inside & own & (z[iy, ix] >= zj - _part_radius(layout) - margin_m)


def default_camera_model(size: tuple[int, int] = (640, 480)) -> tuple[np.ndarray, np.ndarray, str]:
    """A RealSense-like colour model at ``size``: K, plumb_bob distortion, model name."""
    w, h = size
    f = 0.96 * w
    K = np.array([[f, 0, w / 2 - 0.7], [0, f, h / 2 + 1.3], [0, 0, 1]])
    return K, np.array([0.08, -0.15, 0.001, -0.0005, 0.05]), "plumb_bob"


def synthetic_frame(poses: list[np.ndarray], rng: np.random.Generator, *, num_people: int = 2,
                    size: tuple[int, int] = (640, 480), distance: tuple[float, float] = (1.0, 5.0),
                    noise_px: float = 2.0, outside: float = 0.5, missing: float = 0.1,
                    noise_per_m2: float = 0.002, camera_model=None) -> RgbdFrame:
    """A scene of ``num_people`` poses from ``poses`` at ``distance`` from a camera (see module).

    People stand side by side (their bearings differ by more than a body width where possible,
    so that each is seen whole); each gets a random heading.
    """
    K, dist, model = camera_model or default_camera_model(size)
    height = rng.uniform(0.9, 1.5)
    hfov = np.arctan(size[0] / 2 / K[0, 0])
    people, spots = [], []
    for _ in range(num_people):
        for attempt in range(60):
            # near the camera there is room for one person only: later tries step back
            d = rng.uniform(distance[0] + (distance[1] - distance[0]) * min(attempt / 40, 0.8),
                            distance[1])
            x = rng.uniform(-0.6, 0.6) * d * np.tan(hfov)
            # side by side in the image (bearing apart by more than a body width at the nearer)
            if all(abs(x / d - sx / sd) > 0.8 / min(d, sd) for sx, sd in spots):
                break
        spots.append((x, d))
        pose = poses[rng.integers(len(poses))]
        yaw = rng.uniform(-np.pi, np.pi)
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        people.append(pose @ rot.T + np.array([x, d, 0.0]))
    world = np.array(people)
    target = np.array([0.0, np.mean([d for _, d in spots]), rng.uniform(0.6, 1.0)])
    camera = look_at("color", K, dist, model, size, np.array([0.0, 0.0, height]), target)
    wall_y = max(d for _, d in spots) + rng.uniform(0.6, 2.0)
    z, label = render_depth(camera, world, wall=(np.array([0.0, 1.0, 0.0]), wall_y))
    depth = sensor_depth(z, rng, noise_per_m2=noise_per_m2, missing=missing)
    kp, moved = keypoints_2d(camera, world, label, rng, noise_px=noise_px, outside=outside)
    truth = camera.to_camera(world)
    return RgbdFrame(camera, depth, People(BODY_25, size, kp, np.ones(len(kp))), truth, moved,
                     visible_joints(camera, world, z, label), world, label)
