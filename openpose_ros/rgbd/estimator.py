"""2D people + one depth image -> 3D people in the colour camera's optical frame (metres).

Per person and joint (all vectorised over the frame's keypoints):

1. the keypoint's viewing ray through the colour camera's model, lens distortion included
   (plumb_bob, rational_polynomial, equidistant; ``threed.cameras.Camera.undistort``);
2. the depth clusters of a window around it (``depth_window.window_clusters``: the valid depth
   pixels of a window scaled to the person's size in the image). Registered depth (the default:
   the depth image has the colour image's size and pixels) is read at the keypoint itself;
   unregistered depth is read where the ray's point at the current depth estimate lands in the
   depth camera (its own model, and the fixed colour-to-depth extrinsic), a few fixed-point steps
   that converge in two or three because the baseline is small against the depth;
3. the person's body depth is the median of its joints' foregrounds (nearest clusters); each joint
   then takes, among its clusters between ``max_front_m`` in front of the body and
   ``max_behind_m`` behind it, the one with the most weight near the keypoint (a limb in front at
   the window's rim is not the keypoint's own); with ``bone_check``, out from the torso along
   ``BONES``, a joint farther in depth from its parent than the bone reaches takes the cluster in
   reach. A joint with none is dropped (NaN), never placed on the background;
4. the joint centre lies behind the surface by its limb radius (``LIMB_RADIUS_M``, by joint name):
   it is moved that far along the viewing ray.

Hands and faces (when the 2D people carry them) go the same way with windows scaled to the hand
or face, and keypoints that stray from their group's median depth by more than
``part_tolerance_m`` are dropped; a group whose median disagrees with its body is dropped whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openpose_ros.depth_codec import DepthImage, as_depth_image
from openpose_ros.layouts import FACE_70, HAND_21, Layout
from openpose_ros.people import People, missing_to_nan
from openpose_ros.rgbd.depth_window import (WindowConfig, select_depths,
                                            single_pixel_depths, window_clusters, window_depths)
from openpose_ros.threed.cameras import Camera
from openpose_ros.threed.result import People3D

__all__ = ["LIMB_RADIUS_M", "RgbdConfig", "DepthGeometry", "RgbdEstimate", "RgbdEstimator",
           "RgbdInputError", "METHODS"]

#: Depth from the visible surface to the joint centre, metres, by joint name (cameras.md: 3-4 cm
#: at the wrist, 5-7 cm at the elbow and knee, 8-12 cm at the hips and torso). Face landmarks and
#: joints not named here lie on the surface (0).
LIMB_RADIUS_M = {
    "Neck": 0.06, "Chest": 0.10, "Head": 0.05,
    "RShoulder": 0.06, "LShoulder": 0.06, "RElbow": 0.05, "LElbow": 0.05,
    "RWrist": 0.035, "LWrist": 0.035, "MidHip": 0.10, "RHip": 0.09, "LHip": 0.09,
    "RKnee": 0.055, "LKnee": 0.055, "RAnkle": 0.04, "LAnkle": 0.04,
    "LBigToe": 0.02, "LSmallToe": 0.02, "LHeel": 0.03, "RBigToe": 0.02, "RSmallToe": 0.02,
    "RHeel": 0.03, "REar": 0.01, "LEar": 0.01,
}
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
#: Finger joints are about 1 cm thick.
HAND_RADIUS_M = 0.01
#: ``window``: the robust lookup; ``single_pixel``: the pixel under the keypoint, no offset and no
#: consistency check (what other ROS packages do; kept for comparison).
METHODS = ("window", "single_pixel")


class RgbdInputError(ValueError):
    """A depth image that cannot be used with these 2D people (size, no valid pixel)."""


@dataclass(frozen=True)
class RgbdConfig:
    """Attributes:
        min_score: 2D keypoints at or below this confidence are ignored.
        window_fraction: body window half-size as a share of the person's 2D extent (pixels).
        hand_window_fraction, face_window_fraction: the same for hands and faces.
        min_window_px, max_window_px: bounds of every window's half-size, pixels.
        max_behind_m, max_front_m: body-consistency band around the person's median depth.
        part_tolerance_m: hand/face keypoints farther than this from their group's median go.
        limb_offset: compensate the surface-to-joint offset along the ray.
        min_joints: fewest 3D body joints for a person to be kept.
        initial_depth_m: first depth guess for unregistered depth.
        iterations: fixed-point steps for unregistered depth.
        method: one of ``METHODS``.
        bone_check: walk the skeleton out from the torso (``BONES``) and keep each joint within
            its bone's length of its parent (plus ``bone_tolerance_m`` and the depth noise
            ``window.noise_per_m2 * z**2``): the cluster in reach, else dropped.
        window: the windowed lookup's settings.
    """

    min_score: float = 0.05
    window_fraction: float = 0.025
    hand_window_fraction: float = 0.06
    face_window_fraction: float = 0.04
    min_window_px: float = 1.5
    max_window_px: float = 40.0
    max_behind_m: float = 0.3
    max_front_m: float = 0.8
    part_tolerance_m: float = 0.15
    limb_offset: bool = True
    min_joints: int = 1
    initial_depth_m: float = 2.0
    iterations: int = 3
    method: str = "window"
    bone_check: bool = True
    bone_tolerance_m: float = 0.05
    window: WindowConfig = field(default_factory=WindowConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not (0 < self.min_window_px <= self.max_window_px):
            raise ValueError("need 0 < min_window_px <= max_window_px")
        if not (self.max_behind_m > 0 and self.max_front_m > 0 and self.part_tolerance_m > 0):
            raise ValueError("max_behind_m, max_front_m and part_tolerance_m must be > 0")
        if self.bone_tolerance_m < 0:
            raise ValueError("bone_tolerance_m must be >= 0")
        if self.iterations < 1 or self.min_joints < 1 or not self.initial_depth_m > 0:
            raise ValueError("iterations and min_joints must be >= 1, initial_depth_m > 0")


@dataclass(frozen=True)
class DepthGeometry:
    """How the depth image relates to the colour camera.

    Attributes:
        color: the colour camera (its R, t are ignored: its optical frame is the output frame).
        depth: None for registered depth (the colour camera's pixels); else the depth camera, with
            R, t mapping colour-optical-frame points to depth-optical-frame ones
            (``X_d = R X_c + t``, metres).
    """

    color: Camera
    depth: Camera | None = None

    @property
    def registered(self) -> bool:
        return self.depth is None


@dataclass(frozen=True)
class RgbdEstimate:
    """``people``: the kept people (``kept``: their indices among the 2D people);
    ``joints_2d``: usable 2D body joints of the frame; ``no_depth``: of those, joints without a
    surface depth; ``inconsistent``: joints dropped for disagreeing with their body."""

    people: People3D
    kept: np.ndarray
    joints_2d: int
    no_depth: int
    inconsistent: int


def _radii(layout: Layout) -> np.ndarray:
    if layout.name == "HAND_21":
        return np.full(layout.num_parts, HAND_RADIUS_M)
    return np.array([LIMB_RADIUS_M.get(n, 0.0) for n in layout.part_names])


def _extent_px(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``[P]`` larger side of the bounding box of each group's usable keypoints (0 if none)."""
    lo = np.where(ok[..., None], xy, np.inf).min(axis=1)
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=1)
    return np.where(ok.any(axis=1)[:, None], hi - lo, 0.0).max(axis=-1)


def _bone_steps(layout: Layout) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``BONES`` of ``layout`` in steps out from the torso: per step ``(joints, parents, lengths m)``,
    every parent in an earlier step (or a torso joint)."""
    level: dict[str, int] = {}
    steps: dict[int, list] = {}
    for child, parent, length in BONES:
        if layout.has(child) and layout.has(parent):
            level[child] = level.get(parent, 0) + 1
            steps.setdefault(level[child], []).append(
                (layout.index(child), layout.index(parent), length))
    return [tuple(np.array(v, dtype=t) for v, t in zip(zip(*steps[k]), (np.intp, np.intp, float)))
            for k in sorted(steps)]


def _median(z: np.ndarray) -> np.ndarray:
    """``[P]`` median over axis 1 ignoring NaN (NaN for an all-NaN row), without warnings."""
    s = np.sort(z, axis=1)
    n = np.isfinite(s).sum(axis=1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[:, None], 1)[:, 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[:, None], 1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2.0, np.nan)


class RgbdEstimator:
    """People (2D, colour pixels) + depth (metres) -> ``People3D`` (see module docstring)."""

    def __init__(self, geometry: DepthGeometry, config: RgbdConfig = RgbdConfig()) -> None:
        self.geometry = geometry
        self.config = config
        self._kinv = np.linalg.inv(geometry.color.K)

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """``[..., 3]`` viewing rays (x/z, y/z, 1) in the colour optical frame of source pixels."""
        ideal = self.geometry.color.undistort(pixels)
        return np.concatenate([ideal, np.ones(ideal.shape[:-1] + (1,))], axis=-1) @ self._kinv.T

    def _surface_z(self, depth: DepthImage, xy: np.ndarray, rays: np.ndarray,
                   radius_px: np.ndarray) -> np.ndarray:
        """``[N]`` colour-frame z of the surface seen along each ray (NaN: none)."""
        c, g = self.config, self.geometry
        if g.registered:
            if c.method == "single_pixel":
                return single_pixel_depths(depth, xy).astype(np.float64)
            return window_depths(depth, xy, radius_px, c.window).astype(np.float64)
        d = g.depth
        scale = d.K[0, 0] / g.color.K[0, 0]
        z = np.full(len(xy), c.initial_depth_m)
        found = np.full(len(xy), np.nan)
        for _ in range(c.iterations):
            guess = d.to_camera(z[:, None] * rays)  # depth-frame point of the current guess
            pd = d.project(z[:, None] * rays)
            zd = (single_pixel_depths(depth, pd) if c.method == "single_pixel"
                  else window_depths(depth, pd, radius_px * scale, c.window)).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                surface_d = guess * (zd / guess[:, 2])[:, None]  # on the depth ray of that pixel
            found = (surface_d - d.t) @ d.R[:, 2]  # colour-frame z: (R^T (X_d - t)).z
            z = np.where(np.isfinite(found) & (found > 0), found, z)
        return found

    def _clusters(self, depth: DepthImage, xy: np.ndarray, rays: np.ndarray, radius_px: np.ndarray):
        """``(clusters, to_depth_z, to_colour_z)``: the window clusters of each keypoint in the
        depth image, and maps between colour-frame z along each ray and the depth image's z there
        (``(z, rows)`` for the windows ``rows`` only)."""
        c, g = self.config, self.geometry
        if g.registered:
            same = lambda z, rows=None: z  # noqa: E731
            return window_clusters(depth, xy, radius_px, c.window), same, same
        d = g.depth
        scale = d.K[0, 0] / g.color.K[0, 0]
        z = np.full(len(xy), c.initial_depth_m)
        for _ in range(c.iterations):  # settle the depth pixel on the foreground's depth
            guess = d.to_camera(z[:, None] * rays)
            clusters = window_clusters(depth, d.project(z[:, None] * rays), radius_px * scale,
                                       c.window)

            def to_colour(zd, rows=slice(None), guess=guess):
                g_rows = guess[rows]
                with np.errstate(invalid="ignore", divide="ignore"):
                    surface_d = g_rows * (np.asarray(zd, np.float64) / g_rows[:, 2])[:, None]
                return (surface_d - d.t) @ d.R[:, 2]  # colour-frame z: (R^T (X_d - t)).z
            found = to_colour(select_depths(clusters, c.window))
            z = np.where(np.isfinite(found) & (found > 0), found, z)

        def to_depth(zc, rows=slice(None)):
            return d.to_camera(np.asarray(zc, np.float64)[:, None] * rays[rows])[:, 2]
        return clusters, to_depth, to_colour

    def _body_depths(self, depth: DepthImage, layout: Layout, xy: np.ndarray, rays: np.ndarray,
                     ok: np.ndarray,
                     radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(surface z [P, K], seen [P, K], body depth [P])`` (``seen``: the window has a
        foreground, in the band or not): the body depth is the median of the joints'
        foregrounds; each joint then takes, among its window's clusters within the body's band
        (``max_front_m`` in front of it to ``max_behind_m`` behind), the one that holds the
        keypoint's neighbourhood: the nearest cluster may be another body part in front (a hand
        before a hip, a knee before the other leg), seen at the window's rim."""
        c = self.config
        z = np.full(ok.shape, np.nan)
        if not ok.any():
            return z, ok, np.full(len(z), np.nan)
        clusters, to_depth, to_colour = self._clusters(depth, xy[ok], rays[ok], radius[ok])
        z[ok] = to_colour(select_depths(clusters, c.window))  # the foreground of every window
        body, seen = _median(z), np.isfinite(z)
        band = np.broadcast_to(body[:, None], z.shape)[ok]
        near, far = band - c.max_front_m, band + c.max_behind_m
        z[ok] = to_colour(select_depths(clusters, c.window, to_depth(near), to_depth(far)))
        if c.bone_check:
            z = self._bone_gate(layout, clusters, to_depth, to_colour, z, ok, rays, near, far)
        return z, seen, body

    def _bone_gate(self, layout: Layout, clusters, to_depth, to_colour, z: np.ndarray,
                   ok: np.ndarray, rays: np.ndarray, near: np.ndarray, far: np.ndarray
                   ) -> np.ndarray:
        """Walk the bones out from the torso: a joint whose depth is farther from its parent's
        than the bone allows (its ray passes the parent sideways, which uses some of the bone)
        takes the cluster in reach (and in the body's band ``near``/``far`` [windows]) instead,
        or is dropped. Only the joints out of reach are looked up again."""
        c = self.config
        z = z.copy()
        index = np.full(z.shape, -1)
        index[ok] = np.arange(int(ok.sum()))  # each usable joint's window
        for joints, parents, length in _bone_steps(layout):
            zp = z[:, parents]
            side = np.linalg.norm((rays[:, joints] - rays[:, parents])[..., :2], axis=-1) * zp
            reach = length + c.bone_tolerance_m + c.window.noise_per_m2 * np.nan_to_num(zp) ** 2
            with np.errstate(invalid="ignore"):
                along = np.sqrt(np.maximum(reach ** 2 - side ** 2, 0.0))
                zj = z[:, joints]
                out = np.isfinite(zp) & (np.abs(zj - zp) > along)  # NaN joints stay NaN
            if not out.any():
                continue
            p, k = np.nonzero(out)
            w = index[p, joints[k]]
            lo = np.maximum(near[w], (zp - along)[p, k])
            hi = np.minimum(far[w], (zp + along)[p, k])
            z[p, joints[k]] = to_colour(select_depths(clusters.take(w), c.window, to_depth(lo, w),
                                                      to_depth(hi, w)), w)
        return z

    def _group(self, depth: DepthImage, kp: np.ndarray, fraction: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rays [P, K, 3], surface z [P, K], usable [P, K])`` of one keypoint group."""
        xy, rays, ok, radius = self._keypoints(kp, fraction)
        z = np.full(ok.shape, np.nan)
        if ok.any():
            z[ok] = self._surface_z(depth, xy[ok], rays[ok], radius[ok])
        return rays, z, ok

    def _keypoints(self, kp: np.ndarray, fraction: float):
        """``(pixels [P, K, 2], rays [P, K, 3], usable [P, K], window half-size px [P, K])``."""
        c = self.config
        kp = missing_to_nan(kp)
        ok = kp[..., 2] > c.min_score
        xy = np.where(ok[..., None], kp[..., :2], np.nan).astype(np.float64)
        radius = np.clip(fraction * _extent_px(xy, ok), c.min_window_px, c.max_window_px)
        return xy, self.rays(xy), ok, np.broadcast_to(radius[:, None], ok.shape)

    def _points(self, rays: np.ndarray, z: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Joint centres ``[P, K, 3]``: the surface point pushed ``radii [K]`` along the ray."""
        points = z[..., None] * rays
        if self.config.limb_offset and self.config.method == "window":
            unit = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
            points = points + radii[None, :, None] * unit
        return points

    @staticmethod
    def _people3d(layout: Layout, points: np.ndarray, kp: np.ndarray, keep: np.ndarray,
                  track_ids: np.ndarray) -> People3D:
        points = np.where(keep[..., None], points, np.nan)
        return People3D(layout, points, np.where(keep, kp[..., 2], 0.0), keep.astype(np.uint8),
                        np.where(keep, 0.0, np.nan), track_ids=track_ids)

    def check_depth(self, image_size: tuple[int, int], depth_shape: tuple[int, ...]) -> None:
        """Raise ``RgbdInputError`` unless a depth image of ``depth_shape`` fits colour images of
        ``image_size`` (width, height): one channel, and the colour size when registered."""
        if len(depth_shape) != 2:
            raise RgbdInputError(f"depth must be one channel [H, W], got shape {depth_shape}")
        size = (depth_shape[1], depth_shape[0])
        if self.geometry.registered and size != tuple(image_size):
            raise RgbdInputError(f"registered depth is {size[0]}x{size[1]} but the colour image is "
                                 f"{image_size[0]}x{image_size[1]} (set registered:=false for a "
                                 "depth camera with its own CameraInfo)")

    def estimate(self, people: People, depth: "np.ndarray | DepthImage") -> RgbdEstimate:
        """3D people from ``people`` (colour-image pixels) and ``depth`` (float32 ``[H, W]``
        metres, NaN = none, or a ``depth_codec.DepthImage``: only the windows read are converted).

        Raises ``RgbdInputError`` when registered depth does not have the colour image's size.
        """
        c = self.config
        depth = as_depth_image(depth)
        self.check_depth(people.image_size, depth.shape)
        if c.method == "window":
            xy, rays, ok, radius = self._keypoints(people.body, c.window_fraction)
            z, seen, body_ref = self._body_depths(depth, people.layout, xy, rays, ok, radius)
        else:
            rays, z, ok = self._group(depth, people.body, c.window_fraction)
            seen, body_ref = np.isfinite(z), _median(z)
        consistent = ok & np.isfinite(z)
        if c.method == "window":
            with np.errstate(invalid="ignore"):
                consistent &= (z <= (body_ref + c.max_behind_m)[:, None]) & (
                    z >= (body_ref - c.max_front_m)[:, None])
        kept = np.flatnonzero(consistent.sum(axis=1) >= c.min_joints)
        body = self._people3d(people.layout, self._points(rays, z, _radii(people.layout)),
                              people.body, consistent, people.track_ids)
        parts = {}
        for name, layout, fraction in (("left_hand", HAND_21, c.hand_window_fraction),
                                       ("right_hand", HAND_21, c.hand_window_fraction),
                                       ("face", FACE_70, c.face_window_fraction)):
            kp = getattr(people, name)
            if kp.shape[1] == layout.num_parts:
                parts[name] = self._part(depth, layout, kp, fraction, body_ref, people.track_ids)
        result = People3D(body.layout, body.body, body.scores, body.views, body.reproj_error,
                          track_ids=body.track_ids, **parts).take(kept)
        return RgbdEstimate(result, kept, int(ok.sum()), int((ok & ~seen).sum()),
                            int((ok & seen & ~consistent).sum()))

    def _part(self, depth: DepthImage, layout: Layout, kp: np.ndarray, fraction: float,
              body_ref: np.ndarray, track_ids: np.ndarray) -> People3D:
        """One hand or face group of every person, checked against its own median and the body's."""
        c = self.config
        rays, z, ok = self._group(depth, kp, fraction)
        keep = ok & np.isfinite(z)
        if c.method == "window":
            ref = _median(z)
            with np.errstate(invalid="ignore"):
                agrees = (ref <= body_ref + c.max_behind_m) & (ref >= body_ref - c.max_front_m)
                keep &= (np.abs(z - ref[:, None]) <= c.part_tolerance_m) & agrees[:, None]
        return self._people3d(layout, self._points(rays, z, _radii(layout)), kp, keep, track_ids)
