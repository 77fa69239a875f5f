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

A track ends once it has missed a frame and has been unseen for more than ``max_gap_s``, and
at once when its predicted box lies wholly outside the image (the person walked out). Time
without frames is no miss: a node that processes a frame every 1.5 s on a slow CPU still
continues its tracks from one frame to the next. It is *tentative* until matched
``min_hits`` times (reporting -1) and dies at its first miss; confirmation gives it the next id
of this tracker, and ids are never reused, not even after a reset. People without one valid
joint (score > 0 and finite coordinates) never get a track. Hands and faces are rows of the same
person in ``People``, so the person's id covers them.

Stamps going backwards (a bag played in a loop) or a new image size reset the tracker; the
update says so, so a node can warn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from openpose_ros.people import People

__all__ = ["TrackerConfig", "TrackUpdate2D", "Tracker2D", "keypoint_similarity", "box_overlap",
           "keypoint_boxes", "valid_joints"]

# Shapes: coordinates are kept component-major, ``[2, N, J]`` (x and y planes; NaN: no joint),
# and boxes as ``[2, 2, N]`` (low/high corner, x/y), so that every reduction runs along the
# contiguous last axis; the tracker's cost is dominated by the number of numpy calls and by
# strided reductions, not by arithmetic.

_FORBIDDEN = 1e6  # cost of a pair that must not match (finite for linear_sum_assignment)


@dataclass(frozen=True)
class TrackerConfig:
    """Parameters of :class:`Tracker2D`.

    Attributes:
        max_gap_s: longest time (seconds of image stamps) a confirmed track survives unseen,
            once it has missed a frame.
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
    kappa: float = 0.25
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
    return (body[..., 2] > 0) & np.isfinite(body[..., 0]) & np.isfinite(body[..., 1])


def keypoint_boxes(pts: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``[2, 2, N]`` boxes (low and high corner) around the joints of ``pts [2, N, J]``
    (pixels, NaN: missing), written into ``out`` if given; NaN for a row without a joint."""
    boxes = np.empty((2,) + pts.shape[:2]) if out is None else out
    np.fmin.reduce(pts, axis=2, out=boxes[0])
    np.fmax.reduce(pts, axis=2, out=boxes[1])
    return boxes


def box_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[A, B]`` intersection over the smaller area of boxes ``a [2, 2, A]`` and ``b [2, 2, B]``
    (see ``keypoint_boxes``); NaN where either box is NaN or has no area."""
    lo = np.maximum(a[0][:, :, None], b[0][:, None, :])
    hi = np.minimum(a[1][:, :, None], b[1][:, None, :])
    wh = np.clip(hi - lo, 0, None)
    size_a, size_b = a[1] - a[0], b[1] - b[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return wh[0] * wh[1] / np.minimum((size_a[0] * size_a[1])[:, None],
                                          (size_b[0] * size_b[1])[None])


def keypoint_similarity(a: np.ndarray, b: np.ndarray, scale: np.ndarray, kappa: float,
                        candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """OKS-like similarity of ``a [2, A, J]`` and ``b [2, B, J]`` (pixels, NaN or inf: missing).

    Args:
        scale: ``[A, B]`` person scale in pixels of each pair.
        kappa: tolerance as a fraction of the scale.
        candidates: ``[A, B]`` pairs to compute (default all); the others are 0.
    Returns:
        ``[A, B]`` ``mean_j exp(-d_j^2 / (2 (kappa scale)^2))`` over the joints both have (0 where
        none is shared) and the ``[A, B]`` count of shared joints.
    """
    count = np.isfinite(a[0]).astype(np.float32) @ np.isfinite(b[0]).T.astype(np.float32)
    # Flat indices of the candidate pairs, and take/put: a quarter of the cost of fancy
    # indexing on these small arrays
    pairs = np.arange(count.size) if candidates is None else candidates.ravel().nonzero()[0]
    rows, cols = np.divmod(pairs, count.shape[1])
    d = a.astype(np.float32).take(rows, axis=1) - b.astype(np.float32).take(cols, axis=1)
    d *= d
    e = d[0] + d[1]  # [K, J]
    e *= (-0.5 / (kappa * np.asarray(scale, np.float32).take(pairs)) ** 2)[:, None]
    # A joint missing from either side (NaN) becomes -inf: its term is exactly 0, no mask needed
    np.fmax(e, -np.inf, out=e)
    np.exp(e, out=e)
    sim = np.zeros(count.shape, np.float32)
    sim.put(pairs, e @ np.ones(e.shape[-1], np.float32))  # a sum over the short last axis
    return sim / np.maximum(count, 1), count.astype(np.int64)


def _padded(box: np.ndarray, padding: float, min_side: float) -> np.ndarray:
    size = box[1] - box[0]  # [2, N]
    grow = np.maximum(padding * size.max(0), (min_side - size) / 2)
    return np.stack([box[0] - grow, box[1] + grow])


def _nan_median(values: np.ndarray) -> np.ndarray:
    """``[C, N]`` median over the last axis of ``values [C, N, J]``, NaN ignored (NaN if all are);
    the NaN must lie at the same places in every plane ``C`` (a joint lacks both x and y)."""
    ordered = np.sort(values, axis=-1)  # NaN last
    count = values.shape[-1] - np.add.reduce(np.isnan(values[0]), axis=-1)  # [N]
    flat, start = ordered.reshape(len(ordered), -1), np.arange(len(count)) * values.shape[-1]
    # count 0: both indices pick the row's first value, a NaN, so the median is NaN without a mask
    low, high = start + (np.maximum(count, 1) - 1) // 2, start + count // 2
    return (flat.take(low, axis=1) + flat.take(high, axis=1)) / 2


class Tracker2D:
    """Assigns stable ``track_ids`` to the successive ``People`` of one camera (module docstring).

    State lives in parallel arrays over the T live tracks (confirmed and tentative), as of each
    track's last match at ``_stamp``: ``_pts [2, T, J]`` joint positions (NaN: never seen),
    ``_box [2, 2, T]`` their box, ``_vel [2, T]`` pixels/second, ``_hits``, ``_missed`` (frames
    since the last match) and ``_ids`` (-1 while tentative). Every joint of a track moves with ``_vel``, so the predicted box is
    ``_box`` moved by ``_vel * dt``.
    """

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self._next_id = 0
        self._last_stamp: float | None = None
        self._image_size: tuple[int, int] | None = None
        self._clear(num_parts=0)

    def _clear(self, num_parts: int) -> None:
        self._pts = np.zeros((2, 0, num_parts))
        self._box = np.zeros((2, 2, 0))
        self._vel = np.zeros((2, 0))
        self._stamp = np.zeros(0)
        self._hits = np.zeros(0, dtype=np.int64)
        self._missed = np.zeros(0, dtype=np.int64)
        self._ids = np.zeros(0, dtype=np.int64)

    def _keep(self, mask: np.ndarray) -> None:
        self._pts, self._box, self._vel = self._pts[:, mask], self._box[..., mask], self._vel[:, mask]
        self._stamp, self._hits, self._ids = self._stamp[mask], self._hits[mask], self._ids[mask]
        self._missed = self._missed[mask]

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
        self._clear(self._pts.shape[2])
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
        if reason is not None or self._pts.shape[2] != people.layout.num_parts:
            ended = self.reset()
            self._clear(people.layout.num_parts)
        self._last_stamp, self._image_size = stamp_s, people.image_size
        cfg = self.config
        body = people.body
        valid = valid_joints(body)
        pts = np.full((2,) + valid.shape, np.nan)  # [2, N, J] float64
        np.copyto(pts, body[..., :2].transpose(2, 0, 1), where=valid)
        box = keypoint_boxes(pts)

        missed = self._missed > 0
        if missed.any():  # before matching: a track that lapsed cannot take a new person
            expired = missed & (stamp_s - self._stamp > cfg.max_gap_s)
            if expired.any():
                ended += tuple(int(i) for i in self._ids[expired] if i >= 0)
                self._keep(~expired)
        dt = stamp_s - self._stamp  # [T], >= 0: stamps only grow between resets
        shift = self._vel * dt  # [2, T]
        pred = self._pts + shift[..., None]
        pred_box = self._box + shift
        rows, cols = self._assign(pts, box, pred, pred_box,
                                  cfg.min_box_fraction * max(people.image_size))
        if len(rows):
            self._matched(rows, cols, pts, pred, dt[cols], stamp_s)

        self._missed += 1
        self._missed[cols] = 0
        matched = self._missed == 0
        tentative = self._ids < 0
        if tentative.any():
            confirm = np.flatnonzero(matched & tentative & (self._hits >= cfg.min_hits))
            if len(confirm):  # ids in the order of the people in this frame (cols are ascending)
                self._issue_ids(confirm[np.argsort(rows[np.searchsorted(cols, confirm)])])
        track_ids = np.full(len(people), -1, dtype=np.int32)
        track_ids[rows] = self._ids[cols]

        if len(cols) < len(self._ids):  # a track missed this frame: it may end
            width, height = people.image_size
            in_view = ((pred_box[1] >= 0).all(0) & (pred_box[0, 0] <= width)
                       & (pred_box[0, 1] <= height))
            keep = matched | (~tentative & in_view)  # tentative tracks die at their first miss
            if not keep.all():
                ended += tuple(int(i) for i in self._ids[~keep] if i >= 0)
                self._keep(keep)
        if len(rows) == len(people):  # everyone matched: no new track
            return self._result(people, track_ids, reason, ended)
        new = np.ones(len(people), dtype=bool)
        new[rows] = False
        new = np.flatnonzero(new & valid.any(-1))  # people with no valid joint get no track
        if len(new):
            self._add(pts[:, new], box[..., new], stamp_s)
            if cfg.min_hits == 1:
                fresh = np.arange(len(self._ids) - len(new), len(self._ids))
                self._issue_ids(fresh)
                track_ids[new] = self._ids[fresh]
        return self._result(people, track_ids, reason, ended)

    @staticmethod
    def _result(people: People, track_ids: np.ndarray, reason: str | None,
                ended: tuple[int, ...]) -> TrackUpdate2D:
        out = object.__new__(People)  # a shallow copy, without re-checking every array
        out.__dict__.update(people.__dict__, track_ids=track_ids)
        return TrackUpdate2D(out, reason, ended)

    def _matched(self, rows: np.ndarray, cols: np.ndarray, pts: np.ndarray, pred: np.ndarray,
                 dt: np.ndarray, stamp_s: float) -> None:
        """Tracks ``cols`` take people ``rows``: positions, velocity, box, hits."""
        # Every track matched (the usual frame): views instead of gathers and scatters
        every = len(cols) == len(self._ids)
        tracks = slice(None) if every else cols
        seen, last, vel = pts.take(rows, axis=1), self._pts[:, tracks], self._vel[:, tracks]
        moving = dt > 0
        # NaN unless the joint is seen now and was known: the median skips it
        measured = _nan_median((seen - last) / np.where(moving, dt, 1.0)[:, None])
        update = moving & ~np.isnan(measured[0])
        a = np.where(self._hits[tracks] > 1, self.config.velocity_smoothing, 1.0)
        self._vel[:, tracks] = np.where(update, a * measured + (1 - a) * vel, vel)
        self._pts[:, tracks] = np.where(np.isnan(seen), pred[:, tracks], seen)
        if every:
            keypoint_boxes(self._pts, out=self._box)
        else:
            self._box[..., tracks] = keypoint_boxes(self._pts[:, tracks])
        self._stamp[tracks] = stamp_s
        self._hits[tracks] += 1

    def _add(self, pts: np.ndarray, box: np.ndarray, stamp_s: float) -> None:
        """New tentative tracks, one per person of ``pts [2, n, J]``."""
        n = pts.shape[1]
        self._pts = np.concatenate([self._pts, pts], axis=1)
        self._box = np.concatenate([self._box, box], axis=2)
        self._vel = np.concatenate([self._vel, np.zeros((2, n))], axis=1)
        self._stamp = np.concatenate([self._stamp, np.full(n, stamp_s)])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._missed = np.concatenate([self._missed, np.zeros(n, np.int64)])
        self._ids = np.concatenate([self._ids, np.full(n, -1, np.int64)])

    def _issue_ids(self, tracks: np.ndarray) -> None:
        self._ids[tracks] = np.arange(self._next_id, self._next_id + len(tracks))
        self._next_id += len(tracks)

    def _assign(self, pts: np.ndarray, box: np.ndarray, pred: np.ndarray, pred_box: np.ndarray,
                min_side: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows (people) and columns (tracks) of the accepted matches, columns ascending."""
        if not pts.shape[1] or not pred.shape[1]:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        cfg = self.config
        size, pred_size = box[1] - box[0], pred_box[1] - pred_box[0]
        # fmax: a person without a valid joint (NaN box) takes the track's scale, and is
        # refused below anyway
        area = np.fmax((size[0] * size[1])[:, None], (pred_size[0] * pred_size[1])[None])
        scale = np.fmax(np.sqrt(area), min_side)
        # Pairs whose boxes are more than 3 kappa * scale apart on an axis have every joint at
        # least that far apart: each term is below exp(-4.5) = 0.011, so they are skipped.
        (lo, hi), (pred_lo, pred_hi) = box, pred_box
        gap = np.maximum(lo[:, :, None], pred_lo[:, None]) - np.minimum(hi[:, :, None],
                                                                         pred_hi[:, None])
        near = np.maximum(gap[0], gap[1]) <= 3 * cfg.kappa * scale  # NaN (no joint): not near
        oks, common = keypoint_similarity(pts, pred, scale, cfg.kappa, near)
        use_oks = common >= cfg.min_common_joints
        sim = oks
        if not use_oks.all():  # someone seen by a few joints only
            overlap = box_overlap(_padded(box, cfg.box_padding, min_side),
                                  _padded(pred_box, cfg.box_padding, min_side))
            sim = np.where(use_oks, oks, overlap)
        # NaN overlap (no valid joint) never matches
        ok = sim >= np.where(use_oks, cfg.min_similarity, cfg.min_box_overlap)
        return _optimal_matches(ok, sim)


def _optimal_matches(ok: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (ascending) of the ``ok [A, B]`` pairs that the assignment maximising
    first the number of matches, then the summed ``sim``, takes."""
    rows, cols = linear_sum_assignment(np.where(ok, 1.0 - sim, _FORBIDDEN))
    accept = ok[rows, cols]
    rows, cols = rows[accept], cols[accept]
    order = cols.argsort()
    return rows[order], cols[order]
