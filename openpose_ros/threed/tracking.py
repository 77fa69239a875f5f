"""Stable person ids over time: 3D nearest-neighbour tracking.

Each new set's people are matched to the live tracks by the mean distance (metres) over the
joints both have, with an optimal one-to-one assignment (Hungarian); a match farther than
``max_distance_m`` starts a new track. A track not seen for ``max_age_s`` ends; its id is reported
once in ``TrackUpdate.ended`` (so the node can delete its TF frames and markers) and never reused.
Ids belong to the tracker object: two trackers never share a counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from openpose_ros.threed.result import People3D

__all__ = ["TrackingConfig", "TrackUpdate", "Tracker3D", "pose_distances"]


@dataclass(frozen=True)
class TrackingConfig:
    """Attributes: max_distance_m: farthest match (mean joint distance); max_age_s: how long an
    unseen track lives; min_common_joints: fewest shared joints for a joint-wise distance (else the
    distance of the centroids is used)."""

    max_distance_m: float = 0.5
    max_age_s: float = 1.0
    min_common_joints: int = 3

    def __post_init__(self) -> None:
        if not (self.max_distance_m > 0 and self.max_age_s >= 0):
            raise ValueError("max_distance_m must be > 0 and max_age_s >= 0")


@dataclass(frozen=True)
class TrackUpdate:
    """``people`` with ``track_ids`` filled in, and the ids of tracks that ended at this update."""

    people: People3D
    ended: tuple[int, ...] = ()


def pose_distances(a: np.ndarray, b: np.ndarray, min_common: int = 3) -> np.ndarray:
    """``[A, B]`` mean distance over shared joints of poses ``a [A, J, 3]`` and ``b [B, J, 3]`` (metres).

    Pairs sharing fewer than ``min_common`` joints use their centroids; ``inf`` when either is empty.
    """
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)  # [A, B, J], NaN where either is missing
    common = np.isfinite(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        joint_mean = np.where(common, d, 0.0).sum(-1) / common.sum(-1)
        ca, cb = (np.where(np.isfinite(p), p, 0.0).sum(1) / np.isfinite(p).all(-1).sum(1)[:, None]
                  for p in (a, b))  # centroids, NaN for an empty pose
    centroid = np.linalg.norm(ca[:, None] - cb[None], axis=-1)
    out = np.where(common.sum(-1) >= min_common, joint_mean, centroid)
    return np.where(np.isfinite(out), out, np.inf)


@dataclass
class _Tracks:
    ids: list[int] = field(default_factory=list)
    poses: list[np.ndarray] = field(default_factory=list)  # last known position of every joint
    last_seen: list[float] = field(default_factory=list)


class Tracker3D:
    """Assigns stable ``track_ids`` to successive ``People3D`` (see module docstring)."""

    def __init__(self, config: TrackingConfig = TrackingConfig()) -> None:
        self.config = config
        self._tracks = _Tracks()
        self._next_id = 0

    @property
    def live_ids(self) -> tuple[int, ...]:
        return tuple(self._tracks.ids)

    def update(self, people: People3D, stamp_s: float) -> TrackUpdate:
        """Match ``people`` (one set, time ``stamp_s`` in seconds) to the tracks; returns them with ids."""
        tr = self._tracks
        ids = np.full(len(people), -1, dtype=np.int32)
        if tr.ids and len(people):
            cost = pose_distances(people.body.astype(np.float64), np.stack(tr.poses),
                                  self.config.min_common_joints)
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
            for r, c in zip(rows, cols):
                if cost[r, c] <= self.config.max_distance_m:
                    ids[r] = tr.ids[c]
                    seen = np.isfinite(people.body[r]).all(-1)
                    tr.poses[c] = np.where(seen[:, None], people.body[r], tr.poses[c])
                    tr.last_seen[c] = stamp_s
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._next_id
            self._next_id += 1
            tr.ids.append(int(ids[r]))
            tr.poses.append(people.body[r].astype(np.float64))
            tr.last_seen.append(stamp_s)
        alive = [k for k, t in enumerate(tr.last_seen) if stamp_s - t <= self.config.max_age_s]
        ended = tuple(tr.ids[k] for k in range(len(tr.ids)) if k not in set(alive))
        self._tracks = _Tracks([tr.ids[k] for k in alive], [tr.poses[k] for k in alive],
                               [tr.last_seen[k] for k in alive])
        return TrackUpdate(replace(people, track_ids=ids), ended)

    def reset(self) -> tuple[int, ...]:
        """Forget every track (e.g. when time jumps back); returns the ids that ended."""
        ended = tuple(self._tracks.ids)
        self._tracks = _Tracks()
        return ended
