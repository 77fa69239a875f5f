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
   the window's rim is not the keypoint's own); with ``limb_prior``, a joint with a parent
   (``skeleton.BONES``) weighs its clusters by their closeness to its own limb's depth, read along
   the 2D bone from its parent (a keypoint just off its limb - a toe on the floor behind it - has
   the background under it, its limb at the window's rim); with ``bone_check``, out from the torso,
   a joint farther in depth from its nearest placed ancestor than the bones between reach takes
   the cluster in reach. A joint with none is dropped (NaN), never placed on the background;
4. with ``centre_on_surface``, the keypoint moves to the centre of its chosen surface in the
   window (onto its limb when it fell just off it, onto the axis of a thin limb); the joint centre
   lies behind the surface by its limb radius (``skeleton.LIMB_RADIUS_M``, by joint name): it is
   moved that far along the viewing ray.

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
from openpose_ros.rgbd.depth_window import (WindowConfig, segment_clusters, select_depths,
                                            several_surfaces, single_pixel_depths,
                                            surface_centres, window_clusters, window_depths)
from openpose_ros.rgbd.skeleton import LIMB_FRACTIONS, LIMB_RADIUS_M, bone_pairs, bone_steps, radii
from openpose_ros.threed.cameras import Camera
from openpose_ros.threed.result import People3D

__all__ = ["LIMB_RADIUS_M", "RgbdConfig", "DepthGeometry", "RgbdEstimate", "RgbdEstimator",
           "RgbdInputError", "METHODS"]

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
        bone_check: walk the skeleton out from the torso (``skeleton.BONES``) and keep each
            joint within the bones' length of its nearest placed ancestor (plus
            ``bone_tolerance_m`` and the depth noise ``window.noise_per_m2 * z**2``): the cluster
            in reach, else dropped.
        limb_prior: weigh a joint's clusters by a Gaussian of their distance to its limb's depth
            along the 2D bone from its parent, sigma ``limb_prior_sigma`` times the cluster band.
        centre_on_surface: move each keypoint to the centre of its chosen surface in its window
            (onto its limb when it fell just off it, onto the axis of a limb narrower than the
            window).
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
    limb_prior: bool = True
    limb_prior_sigma: float = 0.5
    centre_on_surface: bool = True
    window: WindowConfig = field(default_factory=WindowConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not (0 < self.min_window_px <= self.max_window_px):
            raise ValueError("need 0 < min_window_px <= max_window_px")
        if not (self.max_behind_m > 0 and self.max_front_m > 0 and self.part_tolerance_m > 0):
            raise ValueError("max_behind_m, max_front_m and part_tolerance_m must be > 0")
        if self.bone_tolerance_m < 0 or not self.limb_prior_sigma > 0:
            raise ValueError("bone_tolerance_m must be >= 0 and limb_prior_sigma > 0")
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


def _extent_px(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``[P]`` larger side of the bounding box of each group's usable keypoints (0 if none)."""
    lo = np.where(ok[..., None], xy, np.inf).min(axis=1)
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=1)
    return np.where(ok.any(axis=1)[:, None], hi - lo, 0.0).max(axis=-1)


def _quantile(z: np.ndarray, q: float) -> np.ndarray:
    """``[P]`` ``q``-quantile over axis 1 ignoring NaN (NaN for an all-NaN row), without
    warnings; between the two middle values for the median."""
    s = np.sort(z, axis=1)
    n = np.isfinite(s).sum(axis=1)
    at = q * np.maximum(n - 1, 0)
    lo = np.take_along_axis(s, np.floor(at).astype(np.intp)[:, None], 1)[:, 0]
    hi = np.take_along_axis(s, np.ceil(at).astype(np.intp)[:, None], 1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2.0, np.nan)


def _median(z: np.ndarray) -> np.ndarray:
    """``[P]`` median over axis 1 ignoring NaN (NaN for an all-NaN row), without warnings."""
    return _quantile(z, 0.5)


def _body_depth(z: np.ndarray, xy: np.ndarray, ok: np.ndarray, same_m: float) -> np.ndarray:
    """``[P]`` each person's depth: the median of its joints' foregrounds ``z [P, K]``, leaving
    out the joints that see another person - inside that person's 2D box (of its keypoints
    ``xy [P, K, 2]``, ``ok``, grown by a tenth) and within its depths (its joints' quartiles,
    widened by ``same_m``) - when at least 3 joints remain: the keypoints of someone behind a
    nearer person mostly see the nearer one."""
    body = _median(z)
    if len(z) < 2:
        return body
    lo = np.where(ok[..., None], xy, np.inf).min(axis=1)  # [P, 2] boxes
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=1)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)  # the body reaches past its joints
    inside = ((xy[:, None] >= lo[None, :, None]) & (xy[:, None] <= hi[None, :, None])).all(-1)
    near, far = _quantile(z, 0.25) - same_m, _quantile(z, 0.75) + same_m
    with np.errstate(invalid="ignore"):
        at_other = inside & (z[:, None] >= near[None, :, None]) & (z[:, None] <= far[None, :, None])
    at_other[np.arange(len(z)), np.arange(len(z))] = False
    own = np.where(at_other.any(axis=1), np.nan, z)
    return np.where(np.isfinite(own).sum(axis=1) >= 3, _median(own), body)


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
                     ok: np.ndarray, radius: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(surface z [P, K], seen [P, K], body depth [P], rays [P, K, 3], farthest [P, K])``
        (``farthest``: the depth up to which each joint is consistent; ``seen``: the
        window has a foreground, in the band or not; ``rays``: through the surfaces' centres with
        ``centre_on_surface``): the body depth is the median of the joints' foregrounds; each joint
        then takes, among its window's clusters within the body's band (``max_front_m`` in front
        of it to ``max_behind_m`` behind), the one that holds the keypoint's neighbourhood (the
        nearest cluster may be another body part in front, a hand before a hip, seen at the
        window's rim), weighed by closeness to its limb's depth (``limb_prior``)."""
        c = self.config
        z = np.full(ok.shape, np.nan)
        if not ok.any():
            return z, ok, np.full(len(z), np.nan), rays, z
        clusters, to_depth, to_colour = self._clusters(depth, xy[ok], rays[ok], radius[ok])
        z[ok] = to_colour(select_depths(clusters, c.window, centred=False))  # the foregrounds
        seen = np.isfinite(z)
        body = _body_depth(z, xy, ok, self.config.max_behind_m)
        band = np.broadcast_to(body[:, None], z.shape)[ok]
        near, far = to_depth(band - c.max_front_m), to_depth(band + c.max_behind_m)
        prior = sigma = None
        if c.limb_prior:
            # a choice to weigh: several surfaces, or one behind the body (the floor past a toe)
            behind = z - body[:, None] > c.window.band_m + c.window.noise_per_m2 * z ** 2
            wanted = np.zeros(ok.shape, bool)
            wanted[ok] = several_surfaces(clusters, near) | behind[ok]
            prior = self._limb_depths(depth, layout, xy, rays, ok, radius, body, wanted)[ok]
            sigma = c.limb_prior_sigma * (c.window.band_m + c.window.noise_per_m2 * prior ** 2)
        z[ok] = to_colour(select_depths(clusters, c.window, near, far, prior, sigma))
        farthest = np.where(ok, (body + c.max_behind_m)[:, None], np.nan)
        if c.bone_check:
            z, farthest = self._bone_gate(layout, clusters, to_depth, to_colour, z, ok, rays,
                                          near, far, prior, sigma, farthest)
        if c.centre_on_surface:
            rays = self._centre(clusters, to_depth, z, xy, ok, rays)
        return z, seen, body, rays, farthest

    def _limb_depths(self, depth: DepthImage, layout: Layout, xy: np.ndarray, rays: np.ndarray,
                     ok: np.ndarray, radius: np.ndarray, body: np.ndarray,
                     wanted: np.ndarray) -> np.ndarray:
        """``[P, K]`` depth-image z of the own limb of each joint in ``wanted`` (NaN: none, or not
        wanted: a window with one surface has no choice to weigh): the surface in the
        body's band with the most samples at ``skeleton.LIMB_FRACTIONS`` along the 2D bone from
        its parent (2x2 patches of a third of the joint's window). Unregistered depth is read
        where the points would lie at the body's depth."""
        c, g = self.config, self.geometry
        prior = np.full(ok.shape, np.nan)
        person, joint, parent = bone_pairs(layout, ok)
        keep = wanted[person, joint]
        person, joint, parent = person[keep], joint[keep], parent[keep]
        if len(person) == 0:
            return prior
        ends = xy[person[:, None], np.stack([parent, joint], axis=1)]  # [B, 2 (parent, joint), 2]
        z_body = body[person]
        near, far = z_body - c.max_front_m, z_body + c.max_behind_m
        if not g.registered:
            points = g.depth.project(z_body[:, None, None] * rays[person[:, None],
                                                                  np.stack([parent, joint], 1)])
            scale = g.depth.K[0, 0] / g.color.K[0, 0]
            ray = rays[person, joint]
            near, far = (g.depth.to_camera(v[:, None] * ray)[:, 2] for v in (near, far))
        else:
            points, scale = ends, 1.0
        clusters = segment_clusters(depth, points[:, 0], points[:, 1], LIMB_FRACTIONS,
                                    np.maximum(radius[person, joint] / 3, 1.0) * scale, c.window)
        prior[person, joint] = select_depths(clusters, c.window, near, far)
        return prior

    def _centre(self, clusters, to_depth, z: np.ndarray, xy: np.ndarray, ok: np.ndarray,
              rays: np.ndarray) -> np.ndarray:
        """``[P, K, 3]`` rays through the keypoints moved to their chosen surface's centre."""
        g = self.geometry
        shift = surface_centres(clusters, to_depth(z[ok]), self.config.window)
        if not g.registered:  # depth pixels -> colour pixels
            shift = shift * (g.color.K[0, 0] / g.depth.K[0, 0])
        moved = np.flatnonzero((shift != 0).any(axis=1))
        if len(moved) == 0:
            return rays
        rays = rays.copy()
        p, k = np.nonzero(ok)
        rays[p[moved], k[moved]] = self.rays(xy[p[moved], k[moved]] + shift[moved])
        return rays

    def _bone_gate(self, layout: Layout, clusters, to_depth, to_colour, z: np.ndarray,
                   ok: np.ndarray, rays: np.ndarray, near: np.ndarray, far: np.ndarray,
                   prior: np.ndarray | None, sigma: np.ndarray | None, farthest: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Walk the bones out from the torso: each joint takes its cluster (weighed by ``prior``)
        among those within reach of its nearest placed ancestor - the bones between, less what
        the 2D offset uses (its ray passes the ancestor sideways) - and in front of the body's
        band's far end ``far`` or of that reach, whichever is farther (a leg stepping back lies
        behind the band); ``near``/``far``, ``prior`` [windows, depth-image z]. Returns ``(z,
        farthest [P, K])``, colour-frame z: ``farthest`` (the band's far end) pushed out to each
        joint's reach, the depth up to which it is consistent with its body."""
        c = self.config
        z, farthest = z.copy(), farthest.copy()
        index = np.full(z.shape, -1)
        index[ok] = np.arange(int(ok.sum()))  # each usable joint's window
        anchor = np.broadcast_to(np.arange(z.shape[1]), z.shape).copy()  # nearest placed ancestor
        reach = np.zeros(z.shape)  # and the bones' length to it
        people = np.arange(len(z))[:, None]
        with np.errstate(invalid="ignore"):  # each window's nearest cluster behind the band
            behind_band = np.where(clusters.supported & (clusters.mean > far[:, None]),
                                   clusters.mean, np.inf).min(axis=1)
        for joints, parents, length in bone_steps(layout):
            placed = np.isfinite(z[:, parents])
            anchor[:, joints] = np.where(placed, parents, anchor[:, parents])
            reach[:, joints] = np.where(placed, 0.0, reach[:, parents]) + length
            a = anchor[:, joints]
            za = z[people, a]
            gap = rays[:, joints] - rays[people, a]
            side = np.hypot(gap[..., 0], gap[..., 1]) * za
            limit = reach[:, joints] + c.bone_tolerance_m + c.window.noise_per_m2 * za ** 2
            with np.errstate(invalid="ignore"):  # NaN where the anchor is unplaced: skipped
                along = np.sqrt(np.maximum(limit ** 2 - side ** 2, 0.0))
            p, k = np.nonzero(np.isfinite(za) & ok[:, joints])
            farthest[p, joints[k]] = np.maximum(farthest[p, joints[k]], (za + along)[p, k])
            w = index[p, joints[k]]
            lo = np.maximum(near[w], to_depth((za - along)[p, k], w))
            hi = to_depth((za + along)[p, k], w)
            if prior is not None:  # within half the bone of its limb's outer half
                bound = 0.5 * length[k] + c.bone_tolerance_m
                with np.errstate(invalid="ignore"):
                    lo = np.where(np.isfinite(prior[w]), np.maximum(lo, prior[w] - bound), lo)
                    hi = np.where(np.isfinite(prior[w]), np.minimum(hi, prior[w] + bound), hi)
            # the band's choice stands when it is within these limits and they add no cluster
            # behind the band; only the others are chosen again
            zd = to_depth(z[p, joints[k]], w)
            with np.errstate(invalid="ignore"):
                again = ~((zd >= lo) & (zd <= hi)) | (behind_band[w] <= hi)
            if not again.any():
                continue
            p, k, w, lo, hi = p[again], k[again], w[again], lo[again], hi[again]
            z[p, joints[k]] = to_colour(select_depths(
                clusters.take(w), c.window, lo, hi, None if prior is None else prior[w],
                None if sigma is None else sigma[w]), w)
        return z, farthest

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
            z, seen, body_ref, rays, farthest = self._body_depths(depth, people.layout, xy, rays,
                                                                  ok, radius)
        else:
            rays, z, ok = self._group(depth, people.body, c.window_fraction)
            seen, body_ref = np.isfinite(z), _median(z)
            farthest = (body_ref + c.max_behind_m)[:, None]
        consistent = ok & np.isfinite(z)
        if c.method == "window":
            with np.errstate(invalid="ignore"):
                consistent &= (z <= farthest) & (z >= (body_ref - c.max_front_m)[:, None])
        kept = np.flatnonzero(consistent.sum(axis=1) >= c.min_joints)
        body = self._people3d(people.layout, self._points(rays, z, radii(people.layout)),
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
        return self._people3d(layout, self._points(rays, z, radii(layout)), kp, keep, track_ids)
