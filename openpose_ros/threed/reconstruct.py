"""One synchronised set of 2D views -> 3D people: check, undistort, associate, triangulate.

Stateless per set; identity over time (``tracking``) and smoothing (``smoothing``) come after.
Bad views are skipped with a reason, never raised from deep inside: an unknown camera, a layout
other than the set's, an image size that contradicts the calibration. NaN keypoints count as
missing joints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from openpose_ros.layouts import BODY_25, Layout
from openpose_ros.people import People, missing_to_nan
from openpose_ros.threed.associate import AssociationConfig, associate
from openpose_ros.threed.cameras import Rig, fundamental_matrices
from openpose_ros.threed.result import People3D
from openpose_ros.threed.triangulate import TriangulationConfig, project_points, triangulate_points

__all__ = ["ReconstructionConfig", "Reconstruction", "Reconstructor"]


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
        people: the 3D people (untracked).
        sources: int32 ``[P, V]`` 2D person index used in each rig view, -1 where none (or where
            every joint of that view was rejected).
        views_used: camera names that took part.
        skipped: camera name -> why its view was left out.
    """

    people: People3D
    sources: np.ndarray
    views_used: tuple[str, ...]
    skipped: dict[str, str]


class Reconstructor:
    """Turns ``{camera name: People}`` into ``People3D`` for one calibrated rig."""

    def __init__(self, rig: Rig, config: ReconstructionConfig = ReconstructionConfig()) -> None:
        self.rig = rig
        self.config = config
        self._F = fundamental_matrices(rig)
        self._P = rig.projections
        self._sizes = np.array([c.image_size or (np.inf, np.inf) for c in rig.cameras], dtype=np.float64)

    def _check_views(self, views: Mapping[str, People]) -> tuple[list[int], Layout, dict[str, str]]:
        skipped: dict[str, str] = {}
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
        idx = []
        for name in known:
            people, cam = views[name], self.rig.cameras[self.rig.index(name)]
            size = tuple(people.image_size)
            if people.layout.name != layout.name:
                skipped[name] = f"layout {people.layout.name} differs from the set's {layout.name}"
            elif cam.image_size and all(size) and size != cam.image_size:
                skipped[name] = f"image size {size} differs from the calibration's {cam.image_size}"
            else:
                idx.append(self.rig.index(name))
        return sorted(idx), layout, skipped

    def reconstruct(self, views: Mapping[str, People]) -> Reconstruction:
        """3D people from one set of views (see module docstring)."""
        idx, layout, skipped = self._check_views(views)
        cams = [self.rig.cameras[i] for i in idx]
        J = layout.num_parts
        if len(cams) < 2:
            return Reconstruction(People3D.empty(layout), np.zeros((0, len(self.rig)), np.int32),
                                  tuple(c.name for c in cams), skipped)
        pts, scores = [], []
        for cam in cams:
            body = missing_to_nan(views[cam.name].body)  # [P, J, 3]
            pts.append(cam.undistort(body[..., :2]))
            scores.append(body[..., 2].astype(np.float64))
        sel = np.array(idx)
        sources = associate(self._F[np.ix_(sel, sel)], pts, scores, self.config.association)
        H, V = sources.shape
        gather_pts = np.full((H, V, J, 2), np.nan)
        gather_sc = np.zeros((H, V, J))
        for v in range(V):  # one gather per view (V is small), all hypotheses at once
            has = sources[:, v] >= 0
            gather_pts[has, v] = pts[v][sources[has, v]]
            gather_sc[has, v] = scores[v][sources[has, v]]
        flat_pts = gather_pts.transpose(0, 2, 1, 3).reshape(H * J, V, 2)
        flat_sc = gather_sc.transpose(0, 2, 1).reshape(H * J, V)
        tri = triangulate_points(self._P[sel], flat_pts, flat_sc, self.config.triangulation)
        people = People3D(
            layout,
            tri.points.reshape(H, J, 3),
            tri.score.reshape(H, J),
            tri.used.sum(axis=1).reshape(H, J),
            tri.error.reshape(H, J),
        )
        used_views = tri.used.reshape(H, J, V).any(axis=1)  # views that gave at least one joint
        keep = (people.valid.sum(axis=1) >= self.config.min_joints) & (
            self._seen_fraction(sel, people.body, used_views) >= self.config.min_seen_fraction)
        full_sources = np.full((H, len(self.rig)), -1, dtype=np.int32)
        full_sources[:, sel] = np.where(used_views, sources, -1)
        return Reconstruction(people.take(keep), full_sources[keep], tuple(c.name for c in cams), skipped)

    def _seen_fraction(self, sel: np.ndarray, points: np.ndarray, used_views: np.ndarray) -> np.ndarray:
        """``[H]`` share of the cameras a person falls in (half its joints inside the image) that
        detected it. A ghost (two wrong detections that happen to agree) sits where most cameras
        see nothing; a real person is missed only by the cameras in which it is occluded."""
        uv, depth = project_points(self._P[sel], points.astype(np.float64))  # [H, J, V, 2], [H, J, V]
        size = self._sizes[sel]
        with np.errstate(invalid="ignore"):
            inside = (depth > 0) & (uv >= 0).all(-1) & (uv[..., 0] < size[:, 0]) & (uv[..., 1] < size[:, 1])
        valid = np.isfinite(points).all(-1)
        share = (inside & valid[..., None]).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)[:, None]
        should = (share >= 0.5) | used_views
        return used_views.sum(axis=1) / np.maximum(should.sum(axis=1), 1)
