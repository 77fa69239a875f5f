"""Track ids and smoothing of RGB-D people over time.

3D ids follow the 2D ids when the 2D people carry them (``Person2D.track_id`` >= 0, filled by a
2D tracker upstream): the same person keeps the same number in 2D, in 3D and in TF. Without 2D ids
(every id -1) the 3D nearest-neighbour tracker (``threed.tracking.Tracker3D``) numbers them, or,
with ``track_3d`` off, they stay untracked (-1: published, but with no TF frames or markers).
Optional One-Euro smoothing (``threed.smoothing``) acts on tracked people's bodies (hands and
faces pass unsmoothed) and forgets ids that ended.
"""

from __future__ import annotations


from openpose_ros.threed.result import People3D
from openpose_ros.threed.smoothing import OneEuroConfig, OneEuroSmoother
from openpose_ros.threed.tracking import Tracker3D, TrackingConfig

__all__ = ["RgbdIdentity"]


class RgbdIdentity:
    """Assigns ids (2D ones, else 3D tracking) and smooths (see module docstring).

    Args:
        tracking: settings of the 3D tracker used when the 2D people have no ids; its
            ``max_age_s`` is also how long an unseen 2D id lives (for the ``ended`` report).
        track_3d: use the 3D tracker when the 2D people have no ids.
        smoothing: One-Euro settings, or None for no smoothing.
    """

    def __init__(self, tracking: TrackingConfig = TrackingConfig(), *, track_3d: bool = True,
                 smoothing: OneEuroConfig | None = None) -> None:
        self.tracking = tracking
        self.tracker = Tracker3D(tracking) if track_3d else None
        self.smoother = OneEuroSmoother(smoothing) if smoothing is not None else None
        self._seen_2d: dict[int, float] = {}  # 2D id -> last stamp, s

    def update(self, people: People3D, stamp_s: float) -> tuple[People3D, tuple[int, ...]]:
        """``people`` with ids (and smoothed when on); the ids that ended at this update."""
        ended = self._follow_2d(people, stamp_s)
        if self.tracker is not None and not (people.track_ids >= 0).any():
            update = self.tracker.update(people, stamp_s)
            people, ended = update.people, ended + update.ended
        if self.smoother is not None:
            self.smoother.forget(ended)
            people = self.smoother.apply(people, stamp_s)
        return people, ended

    def _follow_2d(self, people: People3D, stamp_s: float) -> tuple[int, ...]:
        for tid in people.track_ids[people.track_ids >= 0]:
            self._seen_2d[int(tid)] = stamp_s
        gone = tuple(sorted(t for t, last in self._seen_2d.items()
                            if stamp_s - last > self.tracking.max_age_s))
        for t in gone:
            del self._seen_2d[t]
        return gone

    def reset(self) -> tuple[int, ...]:
        """Forget every id (time jumped back); returns the ids that ended."""
        ended = set(self._seen_2d) | set(self.tracker.reset() if self.tracker else ())
        self._seen_2d.clear()
        if self.smoother is not None:
            self.smoother.forget(ended)
        return tuple(sorted(ended))
