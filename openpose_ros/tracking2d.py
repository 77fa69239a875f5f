"""Stable person ids in one camera stream: 2D multi-person tracking of ``People``.

Each frame's people are matched to the live tracks by one global optimal assignment
(Hungarian, ``scipy.optimize.linear_sum_assignment``) on ``1 - similarity``:

- **keypoint similarity** (OKS-like): ``mean_j exp(-d_j^2 / (2 (kappa s)^2))`` over the joints
  the person and the track's prediction both have, ``d_j`` in pixels and ``s`` the person scale
  (square root of the larger of the two keypoint-box areas), so the tolerance follows how big
  the person is in the image;
- **box overlap** where the pair shares fewer than ``min_common_joints`` joints (a person seen
  by a few joints only): intersection over the smaller of the two padded keypoint boxes, not
  over their union, since the box of a person seen by its head alone is a tenth of the box of
  the body it belongs to, and IoU would never match the two.

Motion is constant velocity, driven by the image stamps (seconds), so frames dropped or
superseded upstream only lengthen the prediction. One velocity per track (the median over the
joints seen in two successive matches) moves every keypoint: per-joint velocities from
detections a few pixels noisy would be noisier than the limb motion they add. Joints not seen
travel with the body.

A track lives while ``stamp - last_seen <= max_gap_s`` and ends at once when its predicted
box lies wholly outside the image (the person walked out). It is *tentative* until matched
``min_hits`` times (reporting -1) and dies at its first miss; confirmation gives it the next id
of this tracker, and ids are never reused, not even after a reset. People without one valid
joint (score > 0 and finite coordinates) never get a track. Hands and faces are rows of the same
person in ``People``, so the person's id covers them.

Stamps going backwards (a bag played in a loop) or a new image size reset the tracker; the
update says so, so a node can warn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from openpose_ros.people import People

__all__ = ["TrackerConfig", "TrackUpdate2D", "Tracker2D", "keypoint_similarity", "box_overlap",
           "keypoint_boxes", "valid_joints"]

_FORBIDDEN = 1e6  # cost of a pair that must not match (finite for linear_sum_assignment)


@dataclass(frozen=True)
class TrackerConfig:
    """Parameters of :class:`Tracker2D`.

    Attributes:
        max_gap_s: longest time (seconds of image stamps) a confirmed track survives unseen.
        min_hits: matches before a track is confirmed and gets an id (1: at once).
        kappa: keypoint tolerance as a fraction of the person scale (OKS's ``2 sigma``).
        min_similarity: lowest keypoint similarity (0..1) that may match.
        min_box_overlap: lowest box overlap (intersection over the smaller box) that may match
            a pair with too few shared joints.
        min_common_joints: fewest shared joints for the keypoint similarity.
        box_padding: keypoint boxes are grown by this fraction of their larger side on each
            side (joints lie inside the body's outline), and to at least ``min_box_fraction`` of
            the image's larger side.
        min_box_fraction: see ``box_padding``; also the smallest person scale.
        velocity_smoothing: weight of the newest velocity measurement (1: no smoothing).
    """

    max_gap_s: float = 1.0
    min_hits: int = 2
    kappa: float = 0.15
    min_similarity: float = 0.2
    min_box_overlap: float = 0.5
    min_common_joints: int = 3
    box_padding: float = 0.1
    min_box_fraction: float = 0.02
    velocity_smoothing: float = 0.5

    def __post_init__(self) -> None:
        if not (self.max_gap_s >= 0 and self.min_hits >= 1 and self.kappa > 0
                and 0 <= self.min_similarity <= 1 and 0 <= self.min_box_overlap <= 1
                and self.min_common_joints >= 1 and self.box_padding >= 0
                and self.min_box_fraction > 0 and 0 < self.velocity_smoothing <= 1):
            raise ValueError(f"invalid tracker parameters: {self}")


@dataclass(frozen=True)
class TrackUpdate2D:
    """``people`` with ``track_ids`` filled in (-1: no confirmed track), why the tracker reset
    before this frame (``"stamp_backwards"``, ``"image_size"``, or ``None``), and the ids of
    confirmed tracks that ended at this update (a reset ends all of them)."""

    people: People
    reset: str | None = None
    ended: tuple[int, ...] = ()


def valid_joints(body: np.ndarray) -> np.ndarray:
    """``[..., J]`` mask of joints with a score > 0 and finite x, y (``body [..., J, 3]``)."""
    return (body[..., 2] > 0) & np.isfinite(body[..., :2]).all(-1)


def keypoint_boxes(xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``[N, 4]`` (x0, y0, x1, y1) around the ``valid`` joints of ``xy [N, J, 2]``; NaN when none."""
    lo = np.where(valid[..., None], xy, np.inf).min(-2)
    hi = np.where(valid[..., None], xy, -np.inf).max(-2)
    boxes = np.concatenate([lo, hi], axis=-1)
    boxes[~valid.any(-1)] = np.nan
    return boxes


def _nan_median(values: np.ndarray) -> np.ndarray:
    """``[N, C]`` median over axis 1 of ``values [N, J, C]`` ignoring NaN (NaN where all are)."""
    ordered = np.sort(values, axis=1)  # NaN last
    count = np.isfinite(ordered).sum(1)  # [N, C]
    lo = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], 1)[:, 0]
    hi = np.take_along_axis(ordered, (count // 2)[:, None], 1)[:, 0]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _padded(boxes: np.ndarray, padding: float, min_side: float) -> np.ndarray:
    size = boxes[:, 2:] - boxes[:, :2]
    grow = np.maximum(padding * size.max(-1, keepdims=True), (min_side - size) / 2)
    return np.concatenate([boxes[:, :2] - grow, boxes[:, 2:] + grow], axis=-1)


def box_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[A, B]`` intersection over the smaller area of boxes ``a [A, 4]`` and ``b [B, 4]``
    (x0, y0, x1, y1); 0 where either is NaN or empty."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = inter / np.minimum(area_a[:, None], area_b[None])
    return np.nan_to_num(overlap, nan=0.0, posinf=0.0)


def keypoint_similarity(a: np.ndarray, valid_a: np.ndarray, b: np.ndarray, valid_b: np.ndarray,
                        scale: np.ndarray, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """OKS-like similarity of ``a [A, J, 2]`` and ``b [B, J, 2]`` (pixels) over shared joints.

    Args:
        valid_a, valid_b: ``[A, J]``, ``[B, J]`` joint masks.
        scale: ``[A, B]`` person scale in pixels of each pair.
    Returns:
        ``[A, B]`` similarity in [0, 1] (0 where no joint is shared) and the ``[A, B]`` count of
        shared joints.
    """
    common = valid_a[:, None] & valid_b[None]  # [A, B, J]
    d2 = ((a[:, None] - b[None]) ** 2).sum(-1)
    with np.errstate(invalid="ignore"):
        e = np.exp(-d2 / (2.0 * (kappa * scale[..., None]) ** 2))
    count = common.sum(-1)
    total = np.where(common, e, 0.0).sum(-1)
    return total / np.maximum(count, 1), count


class Tracker2D:
    """Assigns stable ``track_ids`` to the successive ``People`` of one camera (module docstring).

    State lives in parallel arrays over the T live tracks (confirmed and tentative): ``_xy``
    ``[T, J, 2]`` each joint's position at ``_stamp`` (NaN: never seen), ``_vel [T, 2]``
    pixels/second, ``_stamp``/``_hits``/``_ids`` ``[T]`` (id -1 while tentative).
    """

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self._next_id = 0
        self._last_stamp: float | None = None
        self._image_size: tuple[int, int] | None = None
        self._clear(num_parts=0)

    def _clear(self, num_parts: int) -> None:
        self._xy = np.zeros((0, num_parts, 2))
        self._vel = np.zeros((0, 2))
        self._stamp = np.zeros(0)
        self._hits = np.zeros(0, dtype=np.int64)
        self._ids = np.zeros(0, dtype=np.int64)

    @property
    def live_ids(self) -> tuple[int, ...]:
        """Ids of the confirmed live tracks."""
        return tuple(int(i) for i in self._ids if i >= 0)

    @property
    def num_tracks(self) -> int:
        """Live tracks, tentative ones included."""
        return len(self._ids)

    def reset(self) -> tuple[int, ...]:
        """Forget every track (ids are still never reused); returns the confirmed ids that ended."""
        ended = self.live_ids
        self._clear(self._xy.shape[1])
        self._last_stamp = None
        self._image_size = None
        return ended

    def update(self, people: People, stamp_s: float) -> TrackUpdate2D:
        """Match one frame's ``people`` (image stamp ``stamp_s``, seconds) to the tracks.

        Returns them with ``track_ids`` filled in; see :class:`TrackUpdate2D`.
        """
        stamp_s = float(stamp_s)
        reason, ended = None, ()
        if self._last_stamp is not None and stamp_s < self._last_stamp:
            reason = "stamp_backwards"
        elif self._image_size is not None and people.image_size != self._image_size:
            reason = "image_size"
        if reason is not None or self._xy.shape[1] != people.layout.num_parts:
            ended = self.reset()
            self._clear(people.layout.num_parts)
        self._last_stamp, self._image_size = stamp_s, people.image_size
        cfg = self.config
        body = people.body.astype(np.float64)
        valid = valid_joints(body)
        xy = np.where(valid[..., None], body[..., :2], np.nan)
        min_side = cfg.min_box_fraction * max(people.image_size)

        expired = stamp_s - self._stamp > cfg.max_gap_s
        if expired.any():  # before matching: a track that lapsed cannot take a new person
            ended = ended + tuple(int(i) for i in self._ids[expired] if i >= 0)
            self._keep(~expired)
        dt = np.clip(stamp_s - self._stamp, 0.0, None)  # [T]
        pred = self._xy + self._vel[:, None] * dt[:, None, None]
        pred_valid = np.isfinite(pred).all(-1)
        rows, cols = self._assign(xy, valid, pred, pred_valid, min_side)

        # matched tracks: new positions, velocity, hits
        if len(rows):
            seen = valid[rows]
            step = dt[cols]
            moving = step > 0
            both = seen & np.isfinite(self._xy[cols]).all(-1)
            measured = _nan_median(np.where(
                both[..., None],
                (xy[rows] - self._xy[cols]) / np.where(moving, step, 1.0)[:, None, None], np.nan))
            update = moving & np.isfinite(measured).all(-1)
            a = np.where(self._hits[cols] > 1, cfg.velocity_smoothing, 1.0)[:, None]
            self._vel[cols] = np.where(update[:, None], a * measured + (1 - a) * self._vel[cols],
                                       self._vel[cols])
            self._xy[cols] = np.where(seen[..., None], xy[rows], pred[cols])
            self._stamp[cols] = stamp_s
            self._hits[cols] += 1

        matched = np.zeros(len(self._ids), dtype=bool)
        matched[cols] = True
        keep = (matched | ((self._ids >= 0) & (stamp_s - self._stamp <= cfg.max_gap_s)))
        keep &= matched | self._inside_image(pred, pred_valid, people.image_size)
        ended = ended + tuple(int(i) for i in self._ids[~keep] if i >= 0)

        # confirmation: next ids in order of the people in this frame
        confirm = matched & (self._ids < 0) & (self._hits >= cfg.min_hits)
        order = np.flatnonzero(confirm)
        if len(order):  # ids in the order of the people in this frame (cols are ascending)
            by_row = order[np.argsort(rows[np.searchsorted(cols, order)])]
            self._ids[by_row] = np.arange(self._next_id, self._next_id + len(by_row))
            self._next_id += len(by_row)

        track_ids = np.full(len(people), -1, dtype=np.int32)
        track_ids[rows] = self._ids[cols]

        # new tentative tracks for the people with a valid joint that matched nothing
        new = np.ones(len(people), dtype=bool)
        new[rows] = False
        new &= valid.any(-1)
        self._keep(keep)
        self._xy = np.concatenate([self._xy, xy[new]])
        self._vel = np.concatenate([self._vel, np.zeros((int(new.sum()), 2))])
        self._stamp = np.concatenate([self._stamp, np.full(int(new.sum()), stamp_s)])
        self._hits = np.concatenate([self._hits, np.ones(int(new.sum()), np.int64)])
        self._ids = np.concatenate([self._ids, np.full(int(new.sum()), -1, np.int64)])
        if cfg.min_hits == 1 and new.any():
            fresh = np.arange(len(self._ids) - int(new.sum()), len(self._ids))
            self._ids[fresh] = np.arange(self._next_id, self._next_id + len(fresh))
            self._next_id += len(fresh)
            track_ids[np.flatnonzero(new)] = self._ids[fresh]
        return TrackUpdate2D(replace(people, track_ids=track_ids), reason, ended)

    def _keep(self, mask: np.ndarray) -> None:
        self._xy, self._vel = self._xy[mask], self._vel[mask]
        self._stamp, self._hits, self._ids = self._stamp[mask], self._hits[mask], self._ids[mask]

    def _assign(self, xy: np.ndarray, valid: np.ndarray, pred: np.ndarray,
                pred_valid: np.ndarray, min_side: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows (people) and columns (tracks) of the accepted matches, columns ascending."""
        empty = np.zeros(0, dtype=np.int64)
        if not len(xy) or not len(pred):
            return empty, empty
        cfg = self.config
        det_box = keypoint_boxes(xy, valid)
        trk_box = keypoint_boxes(pred, pred_valid)
        det_area = (det_box[:, 2:] - det_box[:, :2]).prod(-1)
        trk_area = (trk_box[:, 2:] - trk_box[:, :2]).prod(-1)
        scale = np.sqrt(np.nan_to_num(np.maximum(det_area[:, None], trk_area[None]), nan=0.0))
        scale = np.maximum(scale, min_side)
        oks, common = keypoint_similarity(xy, valid, pred, pred_valid, scale, cfg.kappa)
        overlap = box_overlap(_padded(det_box, cfg.box_padding, min_side),
                      _padded(trk_box, cfg.box_padding, min_side))
        use_oks = common >= cfg.min_common_joints
        sim = np.where(use_oks, oks, overlap)
        ok = np.where(use_oks, oks >= cfg.min_similarity, overlap >= cfg.min_box_overlap)
        ok &= valid.any(-1)[:, None] & pred_valid.any(-1)[None]
        cost = np.where(ok, 1.0 - sim, _FORBIDDEN)
        rows, cols = linear_sum_assignment(cost)
        accept = ok[rows, cols]
        rows, cols = rows[accept], cols[accept]
        order = np.argsort(cols)
        return rows[order], cols[order]

    def _inside_image(self, pred: np.ndarray, pred_valid: np.ndarray,
                      image_size: tuple[int, int]) -> np.ndarray:
        """``[T]`` whether some predicted joint of each track is still inside the image."""
        w, h = image_size
        x, y = pred[..., 0], pred[..., 1]
        with np.errstate(invalid="ignore"):
            inside = pred_valid & (x >= 0) & (x <= w) & (y >= 0) & (y <= h)
        return inside.any(-1) | ~pred_valid.any(-1)
