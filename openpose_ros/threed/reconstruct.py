"""One synchronised set of 2D views -> 3D people: check, undistort, associate, triangulate.

Stateless per set; identity over time (``tracking``) and smoothing (``smoothing``) come after.
Bad views are skipped with a reason, never raised from deep inside: an unknown camera, a layout
other than the set's, an image size that contradicts the calibration (``image_geometry``: codec
padding and integer fractions of the calibrated size are accepted, each noted once). NaN
keypoints count as missing joints.

Hands and faces: people are associated across views by their bodies only; the same 2D person's
hands and face are then triangulated with the views of its body, in the same batch as the body
joints. A part is on when any view of the set carries it; a view without it counts as missing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from openpose_ros.layouts import BODY_25, FACE_70, HAND_21, Layout
from openpose_ros.people import People, missing_to_nan
from openpose_ros.threed.associate import AssociationConfig, associate
from openpose_ros.threed.cameras import Camera, Rig, fundamental_matrices
from openpose_ros.threed.image_geometry import ImageSizeMismatch, fit_camera
from openpose_ros.threed.result import PART_NAMES, People3D
from openpose_ros.threed.triangulate import TriangulationConfig, project_points, triangulate_points

__all__ = ["ReconstructionConfig", "Reconstruction", "Reconstructor"]

#: Layout of each optional part (``People`` and ``People3D`` field names).
PART_LAYOUTS: dict[str, Layout] = {"left_hand": HAND_21, "right_hand": HAND_21, "face": FACE_70}

# Fitted cameras cached per (camera, image size); a rig sees few sizes, a bad stream many.
_MAX_FITS = 256


@dataclass(frozen=True)
class ReconstructionConfig:
    """Settings of the per-set reconstruction.

    Attributes:
        association: cross-view matching settings.
        triangulation: per-joint triangulation settings.
        min_joints: a 3D person needs at least this many reconstructed joints.
        min_seen_fraction: of the cameras whose image a 3D person falls in, the share that must
            have detected it (ghost rejection, ``_seen_fraction``); 0 keeps every hypothesis.
        layout: the expected body layout, or None to take the most common one of each set.
    """

    association: AssociationConfig = field(default_factory=AssociationConfig)
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    min_joints: int = 4
    min_seen_fraction: float = 0.5
    layout: Layout | None = None


@dataclass(frozen=True)
class Reconstruction:
    """The result of one set.

    Attributes:
        people: the 3D people (untracked), with their hands and faces when the views had them.
        sources: int32 ``[P, V]`` 2D person index used in each rig view, -1 where none (or where
            every joint of that view was rejected).
        views_used: camera names that took part.
        skipped: camera name -> why its view was left out.
        notes: camera name -> how its image size was fitted to the calibration (codec padding,
            scaled intrinsics), reported once per camera and image size.
    """

    people: People3D
    sources: np.ndarray
    views_used: tuple[str, ...]
    skipped: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)


class Reconstructor:
    """Turns ``{camera name: People}`` into ``People3D`` for one calibrated rig."""

    def __init__(self, rig: Rig, config: ReconstructionConfig = ReconstructionConfig()) -> None:
        self.rig = rig
        self.config = config
        self._fits: dict[tuple[str, tuple[int, int]], tuple[Camera, str] | str] = {}
        self._geometry: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._noted: set[tuple[str, tuple[int, int]]] = set()  # fits already reported

    def _fit(self, cam: Camera, size: tuple[int, int]) -> tuple[Camera | None, str]:
        """(camera for this image size or None, note or reason)."""
        key = (cam.name, size)
        if key not in self._fits:
            if len(self._fits) >= _MAX_FITS:
                self._fits.clear()
            try:
                self._fits[key] = fit_camera(cam, size)
            except ImageSizeMismatch as err:
                self._fits[key] = str(err)
        fit = self._fits[key]
        return (None, fit) if isinstance(fit, str) else fit

    def camera(self, name: str, image_size: tuple[int, int]) -> Camera | None:
        """Camera ``name`` fitted to an image of ``image_size`` (``image_geometry``), or None when
        that size cannot be placed in its calibration. ``KeyError`` for an unknown camera."""
        return self._fit(self.rig.cameras[self.rig.index(name)], tuple(image_size))[0]

    def _check_views(self, views: Mapping[str, People]):
        """(rig indices, their fitted cameras, the set's layout, skipped reasons, new notes)."""
        skipped: dict[str, str] = {}
        notes: dict[str, str] = {}
        known = []
        for name, people in views.items():
            if name not in self.rig.names:
                skipped[name] = f"unknown camera {name!r} (rig has {', '.join(self.rig.names)})"
            else:
                known.append(name)
        # The set's layout: configured, else the most common among known cameras (then any view).
        layout = self.config.layout
        pool = known or list(views)
        if layout is None and pool:
            name = Counter(views[n].layout.name for n in pool).most_common(1)[0][0]
            layout = next(views[n].layout for n in pool if views[n].layout.name == name)
        layout = layout or BODY_25
        fitted: dict[int, Camera] = {}
        for name in known:
            people, index = views[name], self.rig.index(name)
            if people.layout.name != layout.name:
                skipped[name] = f"layout {people.layout.name} differs from the set's {layout.name}"
                continue
            size = tuple(people.image_size)
            cam, text = self._fit(self.rig.cameras[index], size)
            if cam is None:
                skipped[name] = text
                continue
            if text and (name, size) not in self._noted:
                self._noted.add((name, size))
                notes[name] = text
            fitted[index] = cam
        idx = sorted(fitted)
        return idx, [fitted[i] for i in idx], layout, skipped, notes

    def _views_geometry(self, idx: list[int], cams: list[Camera]):
        """``(P [V, 3, 4], F [V, V, 3, 3], sizes [V, 2])`` of these fitted cameras (cached)."""
        key = tuple((i, c.image_size, c.K.tobytes()) for i, c in zip(idx, cams))
        geometry = self._geometry.get(key)
        if geometry is None:
            if len(self._geometry) >= _MAX_FITS:
                self._geometry.clear()
            rig = Rig(tuple(cams), self.rig.world_frame)
            sizes = np.array([c.image_size or (np.inf, np.inf) for c in cams], dtype=np.float64)
            geometry = self._geometry[key] = (rig.projections, fundamental_matrices(rig), sizes)
        return geometry

    def reconstruct(self, views: Mapping[str, People]) -> Reconstruction:
        """3D people from one set of views (see module docstring)."""
        idx, cams, layout, skipped, notes = self._check_views(views)
        J = layout.num_parts
        if len(cams) < 2:
            return Reconstruction(People3D.empty(layout), np.zeros((0, len(self.rig)), np.int32),
                                  tuple(c.name for c in cams), skipped, notes)
        P, F, sizes = self._views_geometry(idx, cams)
        parts = self._parts_on([views[c.name] for c in cams])
        pts, scores = [], []  # per view [P_v, J + parts, 2] and [P_v, J + parts]
        for cam in cams:
            people = views[cam.name]
            groups = [people.body] + [self._part(people, name) for name in parts]
            kp = missing_to_nan(np.concatenate(groups, axis=1))
            pts.append(cam.undistort(kp[..., :2]))
            scores.append(kp[..., 2].astype(np.float64))
        sources = associate(F, [p[:, :J] for p in pts], [s[:, :J] for s in scores],
                            self.config.association)
        H, V = sources.shape
        K = pts[0].shape[1]
        gather_pts = np.full((H, V, K, 2), np.nan)
        gather_sc = np.zeros((H, V, K))
        for v in range(V):  # one gather per view (V is small), all hypotheses at once
            has = sources[:, v] >= 0
            gather_pts[has, v] = pts[v][sources[has, v]]
            gather_sc[has, v] = scores[v][sources[has, v]]
        flat_pts = gather_pts.transpose(0, 2, 1, 3).reshape(H * K, V, 2)
        flat_sc = gather_sc.transpose(0, 2, 1).reshape(H * K, V)
        tri = triangulate_points(P, flat_pts, flat_sc, self.config.triangulation)
        used = tri.used.reshape(H, K, V)
        people = self._people3d(layout, parts, tri.points.reshape(H, K, 3), tri.score.reshape(H, K),
                                used.sum(axis=2), tri.error.reshape(H, K))
        used_views = used[:, :J].any(axis=1)  # views that gave at least one body joint
        keep = (people.valid.sum(axis=1) >= self.config.min_joints) & (
            self._seen_fraction(P, sizes, people.body, used_views) >= self.config.min_seen_fraction)
        full_sources = np.full((H, len(self.rig)), -1, dtype=np.int32)
        full_sources[:, idx] = np.where(used_views, sources, -1)
        return Reconstruction(people.take(keep), full_sources[keep], tuple(c.name for c in cams),
                              skipped, notes)

    @staticmethod
    def _parts_on(views: list[People]) -> list[str]:
        """The optional parts any of these views carries, in ``PART_NAMES`` order."""
        return [name for name in PART_NAMES
                if any(getattr(v, name).shape[1] == PART_LAYOUTS[name].num_parts for v in views)]

    @staticmethod
    def _part(people: People, name: str) -> np.ndarray:
        """``[P, K, 3]`` keypoints of part ``name``; all missing where this view lacks the part."""
        values = getattr(people, name)
        k = PART_LAYOUTS[name].num_parts
        if values.shape[1] == k:
            return values
        out = np.zeros((len(people), k, 3), np.float32)
        out[..., :2] = np.nan
        return out

    @staticmethod
    def _people3d(layout: Layout, parts: list[str], points, score, views, error) -> People3D:
        """Split the joint axis of one batch back into the body and its parts."""
        bounds = np.cumsum([layout.num_parts] + [PART_LAYOUTS[n].num_parts for n in parts])
        chunks = [slice(lo, hi) for lo, hi in zip(np.r_[0, bounds[:-1]], bounds)]
        make = [(layout, chunks[0])] + [(PART_LAYOUTS[n], c) for n, c in zip(parts, chunks[1:])]
        groups = [People3D(lay, points[:, c], score[:, c], views[:, c], error[:, c]) for lay, c in make]
        return replace(groups[0], **dict(zip(parts, groups[1:])))

    def _seen_fraction(self, P: np.ndarray, size: np.ndarray, points: np.ndarray,
                       used_views: np.ndarray) -> np.ndarray:
        """``[H]`` share of the cameras a person falls in (half its joints inside the image) that
        detected it. A ghost (two wrong detections that happen to agree) sits where most cameras
        see nothing; a real person is missed only by the cameras in which it is occluded."""
        uv, depth = project_points(P, points.astype(np.float64))  # [H, J, V, 2], [H, J, V]
        with np.errstate(invalid="ignore"):
            inside = (depth > 0) & (uv >= 0).all(-1) & (uv[..., 0] < size[:, 0]) & (uv[..., 1] < size[:, 1])
        valid = np.isfinite(points).all(-1)
        share = (inside & valid[..., None]).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)[:, None]
        should = (share >= 0.5) | used_views
        return used_views.sum(axis=1) / np.maximum(should.sum(axis=1), 1)
