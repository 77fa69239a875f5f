"""3D nearest-neighbour tracking and One-Euro smoothing on synthetic walking people."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25
from openpose_ros.threed.result import People3D
from openpose_ros.threed.smoothing import OneEuroConfig, OneEuroSmoother
from openpose_ros.threed.tracking import Tracker3D, TrackingConfig, pose_distances

J = BODY_25.num_parts


def _people(bodies: np.ndarray) -> People3D:
    bodies = np.asarray(bodies, dtype=np.float64).reshape(-1, J, 3)
    valid = np.isfinite(bodies).all(-1)
    return People3D(BODY_25, bodies, valid * 0.9, valid * 3, np.where(valid, 1.0, np.nan))


def _walkers(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton-sized joint clouds at 1.2 m spacing and their velocities (about 1 m/s)."""
    base = rng.normal(0, 0.25, (n, J, 3)) + np.c_[np.arange(n) * 1.2, np.zeros(n), np.zeros(n)][:, None]
    velocity = rng.normal(0, 1.0, (n, 3)) * [1, 0, 1]
    return base, velocity


def test_ids_follow_people_through_shuffles_and_gaps():
    rng = np.random.default_rng(0)
    base, vel = _walkers(5, rng)
    tracker = Tracker3D(TrackingConfig(max_distance_m=0.5, max_age_s=0.5))
    first = None
    for k in range(60):
        t = k / 30.0
        bodies = base + vel[:, None] * t + rng.normal(0, 0.01, base.shape)
        present = np.ones(5, bool)
        if 20 <= k < 25:
            present[3] = False  # person 3 unseen for 5 frames (< max_age)
        bodies[0, rng.random(J) < 0.3] = np.nan  # missing joints
        order = rng.permutation(np.flatnonzero(present))
        upd = tracker.update(_people(bodies[order]), t)
        ids = dict(zip(order.tolist(), upd.people.track_ids.tolist()))
        if first is None:
            first = ids
            assert sorted(ids.values()) == [0, 1, 2, 3, 4]
        assert all(ids[p] == first[p] for p in ids)
        assert upd.ended == ()


def test_tracks_end_after_max_age_and_ids_are_never_reused():
    rng = np.random.default_rng(1)
    base, _ = _walkers(2, rng)
    tracker = Tracker3D(TrackingConfig(max_age_s=0.2))
    assert tracker.update(_people(base), 0.0).people.track_ids.tolist() == [0, 1]
    upd = tracker.update(_people(base[:1]), 0.1)
    assert upd.people.track_ids.tolist() == [0] and upd.ended == ()
    upd = tracker.update(_people(base[:1]), 0.35)
    assert upd.ended == (1,) and tracker.live_ids == (0,)
    # Person 1 comes back: a new id, 1 is not reused.
    assert tracker.update(_people(base), 0.4).people.track_ids.tolist() == [0, 2]
    # Far jump: no match, new id.
    assert tracker.update(_people(base[:1] + 5.0), 0.5).people.track_ids.tolist() == [3]
    assert tracker.reset() == (0, 2, 3) and tracker.live_ids == ()


def test_two_trackers_do_not_share_ids_and_empty_sets_work():
    a, b = Tracker3D(), Tracker3D()
    body = np.zeros((1, J, 3))
    assert a.update(_people(body), 0).people.track_ids.tolist() == [0]
    assert b.update(_people(body), 0).people.track_ids.tolist() == [0]
    assert len(a.update(People3D.empty(BODY_25), 0.1).people) == 0


def test_pose_distances_fall_back_to_centroids():
    a = np.zeros((1, J, 3))
    b = np.full((2, J, 3), np.nan)
    b[0, :2] = [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]  # only 2 shared joints: centroid distance
    b[1] = 0.5
    d = pose_distances(a, b, min_common=3)
    assert d[0, 0] == pytest.approx(1.0) and d[0, 1] == pytest.approx(np.sqrt(0.75))
    assert np.isinf(pose_distances(a, np.full((1, J, 3), np.nan))).all()


def _run_filter(config: OneEuroConfig, seed: int = 2) -> tuple[float, float, float]:
    """(raw jitter at rest, filtered jitter at rest, lag at 1 m/s after 2 s), metres."""
    rng = np.random.default_rng(seed)
    smoother = OneEuroSmoother(config)
    raw_err, smooth_err = [], []
    for k in range(120):
        t = k / 30.0
        truth = np.zeros((J, 3))
        truth[:, 0] = 0.0 if k < 60 else t - 2.0  # at rest, then 1 m/s along x
        noisy = truth + rng.normal(0, 0.01, (J, 3))
        p = _people(noisy[None])
        p.track_ids[:] = 7
        out = smoother.apply(p, t).body[0]
        if 20 <= k < 60:
            raw_err.append(np.linalg.norm(noisy - truth, axis=-1).mean())
            smooth_err.append(np.linalg.norm(out - truth, axis=-1).mean())
    return float(np.mean(raw_err)), float(np.mean(smooth_err)), float(np.linalg.norm(out - truth, axis=-1).mean())


def test_one_euro_reduces_jitter_and_adapts_to_speed():
    raw, still, lag = _run_filter(OneEuroConfig(min_cutoff_hz=1.0, beta=0.7))
    assert still < 0.5 * raw  # at rest: jitter at least halved
    # A plain 1 Hz low-pass (beta 0) lags v / (2 pi fc) = 16 cm behind at 1 m/s; the speed term
    # must cut that substantially.
    _, _, lag_plain = _run_filter(OneEuroConfig(min_cutoff_hz=1.0, beta=0.0))
    assert lag_plain == pytest.approx(1 / (2 * np.pi), rel=0.2)
    assert lag < 0.6 * lag_plain


def test_one_euro_passes_missing_joints_and_untracked_people():
    smoother = OneEuroSmoother()
    body = np.zeros((1, J, 3))
    p = _people(body)
    p.track_ids[:] = 1
    smoother.apply(p, 0.0)
    gap = body.copy()
    gap[0, 3] = np.nan
    gap[0, 4] = 1.0
    q = _people(gap)
    q.track_ids[:] = 1
    out = smoother.apply(q, 1 / 30)
    assert np.isnan(out.body[0, 3]).all() and (out.body[0, 4] < 1.0).all()  # smoothed towards 0
    untracked = _people(gap)
    np.testing.assert_array_equal(smoother.apply(untracked, 2 / 30).body, untracked.body)
    # After a gap longer than max_gap_s a joint restarts unfiltered.
    out = smoother.apply(q, 5.0)
    np.testing.assert_allclose(out.body[0, 4], 1.0)
    smoother.forget([1])
    np.testing.assert_allclose(smoother.apply(q, 5.1).body[0, 4], 1.0)
