"""Identity errors of a 2D tracker against ground-truth identities (CLEAR-MOT style counts).

Per frame, each ground-truth person (its joints projected into the image, pixels) is matched
one to one to the detected person its joints land nearest to (median over the joints both have,
within ``gate_px``); that person's track id is what the tracker called it. Over the frames,
per ground-truth identity:

- an **ID switch** is a change of track id between two frames where it had one;
- a **fragment** is a return to a track after frames where the person was detected but carried
  no confirmed id (CLEAR-MOT "Frag", counted only while detected: a frame the detector missed is
  no fault of the tracker).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["UNTRACKED", "UNSEEN", "nearest_people", "track_of_truth", "IdentityCounts",
           "identity_counts", "multiview_identity_counts"]

UNTRACKED = -1  #: detected, but no confirmed track id
UNSEEN = -2  #: no detected person near the ground truth in that frame


def nearest_people(truth_px: np.ndarray, body: np.ndarray, *, gate_px: float = 100.0,
                   min_score: float = 0.1) -> np.ndarray:
    """``[G]`` index of the detected person matched to each ground-truth person, -1 for none.

    Args:
        truth_px: ``[G, J, 2]`` ground-truth joints in image pixels (NaN: not known / not visible).
        body: ``[D, J, 3]`` detections (x, y, score) in the same joint order.
        gate_px: farthest median joint distance of a match.
        min_score: detected joints below this score do not count.
    """
    out = np.full(len(truth_px), -1, dtype=np.int64)
    if not len(truth_px) or not len(body):
        return out
    d = np.linalg.norm(truth_px[:, None] - body[None, :, :, :2], axis=-1)  # [G, D, J]
    d = np.where(body[None, :, :, 2] >= min_score, d, np.nan)
    with warnings.catch_warnings():  # pairs sharing no joint: all-NaN rows, no match
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(d, axis=-1)
    allowed = np.isfinite(med) & (med <= gate_px)
    rows, cols = linear_sum_assignment(np.where(allowed, med, 1e9))
    keep = allowed[rows, cols]
    out[rows[keep]] = cols[keep]
    return out


def track_of_truth(truth_px: np.ndarray, body: np.ndarray, track_ids: np.ndarray,
                   **kwargs) -> np.ndarray:
    """``[G]`` track id the tracker gave each ground-truth person in one frame: the id of its
    nearest detection (``nearest_people``), ``UNTRACKED`` when that one has none, ``UNSEEN`` when
    no detection is near."""
    nearest = nearest_people(truth_px, body, **kwargs)
    ids = np.asarray(track_ids, dtype=np.int64)
    out = np.where(nearest >= 0, ids[np.maximum(nearest, 0)] if len(ids) else UNTRACKED, UNSEEN)
    return np.where((nearest >= 0) & (out < 0), UNTRACKED, out)


@dataclass(frozen=True)
class IdentityCounts:
    """Attributes: switches and fragments (totals over identities); ids: the distinct track ids
    each identity was given; tracked: frames in which each identity had a track id; seen:
    frames in which each was detected."""

    switches: int
    fragments: int
    ids: tuple[tuple[int, ...], ...]
    tracked: tuple[int, ...]
    seen: tuple[int, ...]


def identity_counts(assigned: np.ndarray) -> IdentityCounts:
    """Counts over ``assigned [F, G]`` (int): per frame and ground-truth identity, a track id, or
    ``UNTRACKED`` / ``UNSEEN`` (see the module docstring)."""
    assigned = np.asarray(assigned, dtype=np.int64)
    switches = fragments = 0
    ids, tracked, seen = [], [], []
    for column in assigned.T:
        last, gap = None, False
        for value in column:
            if value >= 0:
                switches += last is not None and value != last
                fragments += last is not None and gap
                last, gap = value, False
            elif value == UNTRACKED and last is not None:
                gap = True
        ids.append(tuple(dict.fromkeys(int(v) for v in column if v >= 0)))
        tracked.append(int((column >= 0).sum()))
        seen.append(int((column != UNSEEN).sum()))
    return IdentityCounts(int(switches), int(fragments), tuple(ids), tuple(tracked), tuple(seen))


def multiview_identity_counts(rig, frames: dict, truth: np.ndarray, make_tracker, *,
                              fps: float, cameras: tuple[str, ...] | None = None,
                              gate_px: float = 100.0) -> dict[str, IdentityCounts]:
    """Each camera's detections through its own tracker, scored against projected 3D truth.

    Args:
        rig: the ``threed.cameras.Rig`` the truth is projected with.
        frames: frame index -> camera name -> ``People`` (``datasets.load_pose2sim_trial``).
        truth: ``[F, G, J, 3]`` world metres (NaN: missing), indexed by the same frame numbers,
            joints in the detections' order.
        make_tracker: a new tracker per camera (``update(people, stamp_s).people.track_ids``).
        fps: frame rate; frame k is stamped k / fps seconds.
        cameras: the cameras to score (default: all of the rig).
    Returns:
        camera name -> ``IdentityCounts``.
    """
    out = {}
    for name in cameras or rig.names:
        camera = rig.cameras[rig.names.index(name)]
        tracker = make_tracker()
        assigned = []
        for f in sorted(frames):
            people = frames[f].get(name)
            if people is None:
                continue
            ids = tracker.update(people, f / fps).people.track_ids
            projected = camera.project(truth[f])
            projected = np.where(camera.in_image(projected)[..., None], projected, np.nan)
            assigned.append(track_of_truth(projected, people.body, ids, gate_px=gate_px))
        out[name] = identity_counts(np.array(assigned).reshape(len(assigned), truth.shape[1]))
    return out
