"""2D tracker: synthetic walkers (BODY_25 skeletons moved at constant speed, 2 px noise) through
crossings, occlusions, exits and entries, dropped frames, NaN joints and stamps going backwards."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25, HAND_21
from openpose_ros.people import People
from scipy.optimize import linear_sum_assignment

from openpose_ros.tracking2d import (Tracker2D, TrackerConfig, _nan_median, box_overlap,
                                     keypoint_boxes, keypoint_similarity)

SIZE = (1280, 720)
FPS = 30.0


# A standing person, in units of its height (y down, centred on the hip).
_STANDING = {
    "Nose": (0, -0.45), "Neck": (0, -0.35), "RShoulder": (-0.1, -0.35), "RElbow": (-0.13, -0.2),
    "RWrist": (-0.14, -0.05), "LShoulder": (0.1, -0.35), "LElbow": (0.13, -0.2),
    "LWrist": (0.14, -0.05), "MidHip": (0, 0), "RHip": (-0.06, 0), "RKnee": (-0.07, 0.22),
    "RAnkle": (-0.07, 0.45), "LHip": (0.06, 0), "LKnee": (0.07, 0.22), "LAnkle": (0.07, 0.45),
    "REye": (-0.02, -0.47), "LEye": (0.02, -0.47), "REar": (-0.04, -0.46), "LEar": (0.04, -0.46),
    "LBigToe": (0.1, 0.5), "LSmallToe": (0.12, 0.5), "LHeel": (0.06, 0.48),
    "RBigToe": (-0.1, 0.5), "RSmallToe": (-0.12, 0.5), "RHeel": (-0.06, 0.48),
}


def template(rng: np.random.Generator, height: float = 300.0) -> np.ndarray:
    """``[25, 2]`` one standing skeleton (its own small pose variation), centred on the hip,
    ``height`` pixels tall."""
    pose = np.array([_STANDING[name] for name in BODY_25.part_names], dtype=float)
    return (pose + rng.normal(0, 0.02, pose.shape)) * height


def frame(poses: list[np.ndarray], rng: np.random.Generator, noise: float = 2.0) -> People:
    """People at ``poses`` (each ``[25, 2]``), with pixel noise, in that order."""
    if not poses:
        return People.empty(BODY_25, SIZE)
    xy = np.stack(poses) + rng.normal(0, noise, (len(poses), 25, 2))
    body = np.concatenate([xy, np.full((len(poses), 25, 1), 0.8)], axis=-1)
    return People(BODY_25, SIZE, body, np.ones(len(poses)))


def run(tracker: Tracker2D, frames: list[tuple[float, People]]) -> list[np.ndarray]:
    return [tracker.update(people, t).people.track_ids.copy() for t, people in frames]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("occluded", [False, True], ids=["both-seen", "front-one-only"])
def test_people_crossing_paths_keep_their_ids(rng, occluded):
    a, b = template(rng), template(rng, height=260)
    frames, who = [], []
    for k in range(90):  # 3 s: A walks right, B left, crossing at the image centre at 1.5 s
        t = k / FPS
        pa = a + (340 + 200 * t, 360)
        pb = b + (940 - 200 * t, 380)
        overlap = abs(pa[:, 0].mean() - pb[:, 0].mean()) < 90
        order = [0] if occluded and overlap else ([1, 0] if k % 2 else [0, 1])
        frames.append((t, frame([(pa, pb)[i] for i in order], rng)))
        who.append(order)
    ids = run(Tracker2D(), frames)
    seen = {0: set(), 1: set()}
    for order, frame_ids in zip(who[2:], ids[2:]):  # confirmed from the second frame on
        for person, tid in zip(order, frame_ids):
            seen[person].add(int(tid))
    assert len(seen[0]) == 1 and len(seen[1]) == 1 and seen[0] != seen[1], seen
    assert -1 not in seen[0] | seen[1]


def test_occlusion_gap_within_max_gap_keeps_the_id_and_longer_gaps_do_not(rng):
    a = template(rng)
    cfg = TrackerConfig(max_gap_s=1.0)
    for gap_s, same in ((0.6, True), (1.3, False)):
        tracker = Tracker2D(cfg)
        frames = []
        for k in range(int(3 * FPS)):
            t = k / FPS
            hidden = 1.0 <= t < 1.0 + gap_s
            frames.append((t, frame([] if hidden else [a + (200 + 250 * t, 360)], rng)))
        ids = [i for i in run(tracker, frames) if len(i)]
        before, after = ids[5][0], ids[-1][0]
        assert before >= 0 and after >= 0
        assert (before == after) == same, (gap_s, before, after)


def test_someone_else_at_the_same_place_gets_a_new_id(rng):
    a, b = template(rng), template(rng, height=320)
    tracker = Tracker2D(TrackerConfig(max_gap_s=0.5))
    frames = [(k / FPS, frame([a + (640, 360)], rng)) for k in range(30)]
    frames += [(1.0 + k / FPS, frame([], rng)) for k in range(30)]  # nobody for a second
    frames += [(2.0 + k / FPS, frame([b + (640, 360)], rng)) for k in range(30)]
    ids = run(tracker, frames)
    assert ids[10][0] >= 0 and ids[-1][0] >= 0 and ids[10][0] != ids[-1][0]


def test_time_without_frames_is_no_miss(rng):
    # A slow node: a frame every 1.5 s, longer than max_gap_s; people who stay keep their ids.
    a, b = template(rng), template(rng)
    frames = [(1.5 * k, frame([a + (400 + 5 * k, 360), b + (900, 360)], rng)) for k in range(6)]
    ids = run(Tracker2D(TrackerConfig(max_gap_s=1.0)), frames)
    assert all(list(i) == list(ids[1]) for i in ids[1:]) and min(ids[1]) >= 0
    # ...but once missed, the gap counts: A is not seen at 9 s, and is new at 10.5 s.
    tracker = Tracker2D(TrackerConfig(max_gap_s=1.0))
    run(tracker, frames)
    tracker.update(frame([b + (900, 360)], rng), 9.0)
    back = tracker.update(frame([a + (430, 360), b + (900, 360)], rng), 10.5).people.track_ids
    assert back[0] == -1 and back[1] == ids[1][1]


def test_walking_out_ends_the_track_at_once(rng):
    # A walks out on the right; 0.2 s later (within max_gap_s) B walks in there, leftwards.
    a, b = template(rng), template(rng, height=280)
    frames = []
    for k in range(int(2 * FPS)):
        t = k / FPS
        x = 900 + 400 * t  # A's centre; its joints are all past the edge from about t = 1.2 s
        if np.any(a[:, 0] + x < SIZE[0]):
            frames.append((t, frame([a + (x, 360)], rng)))
    last = frames[-1][0]
    for k in range(20):
        t = last + 0.2 + k / FPS
        frames.append((t, frame([b + (1200 - 300 * (t - last - 0.2), 360)], rng)))
    ids = run(Tracker2D(TrackerConfig(max_gap_s=1.0)), frames)
    assert ids[5][0] >= 0 and ids[-1][0] >= 0 and ids[5][0] != ids[-1][0]


def test_dropped_frames_are_bridged_by_the_stamps(rng):
    # 600 px/s: a third of a second without frames moves the person 200 px, two thirds of
    # its height; constant velocity on the stamps keeps the match.
    a = template(rng)
    stamps = [k / FPS for k in range(90) if not (30 <= k < 40) and (k < 60 or k % 3 == 0)]
    frames = [(t, frame([a + (100 + 600 * t, 360)], rng)) for t in stamps if 100 + 600 * t < 1180]
    ids = run(Tracker2D(), frames)
    assert len({int(i[0]) for i in ids[1:]}) == 1 and ids[-1][0] >= 0
    # Without the motion model (every stamp the same gap apart would hide the 10 lost frames)
    # the jump is too far for the keypoint similarity: the stamps are what bridge it.
    ids_no_stamps = run(Tracker2D(), [(k / FPS, p) for k, (_, p) in enumerate(frames)])
    assert len({int(i[0]) for i in ids_no_stamps[1:]}) > 1


def test_no_people_and_empty_frames(rng):
    tracker = Tracker2D()
    out = tracker.update(People.empty(BODY_25, SIZE), 0.0)
    assert len(out.people) == 0 and out.people.track_ids.dtype == np.int32
    a = template(rng)
    for k in range(5):
        tracker.update(frame([a + (640, 360)], rng), (k + 1) / FPS)
    assert tracker.live_ids == (0,)
    tracker.update(People.empty(BODY_25, SIZE), 0.5)
    assert tracker.live_ids == (0,)  # within max_gap_s
    tracker.update(People.empty(BODY_25, SIZE), 2.0)
    assert tracker.live_ids == () and tracker.num_tracks == 0


def test_nan_joints_are_invalid_and_all_invalid_people_get_no_track(rng):
    a, b = template(rng), template(rng)
    tracker = Tracker2D()
    for k in range(10):
        people = frame([a + (400, 360), b + (900, 360), a + (650, 360)], rng)
        people.body[0, ::2, :2] = np.nan  # half of A's joints NaN, score kept > 0
        people.body[1, 3:, :] = (np.nan, np.nan, 0.0)  # B: only three joints
        people.body[2, :, :2] = np.nan  # no valid joint, scores still 0.8
        ids = tracker.update(people, k / FPS).people.track_ids
    assert ids[0] >= 0 and ids[1] >= 0 and ids[0] != ids[1] and ids[2] == -1
    assert tracker.num_tracks == 2


def test_few_joints_fall_back_to_box_overlap(rng):
    a = template(rng)
    tracker = Tracker2D()
    for k in range(5):
        tid = tracker.update(frame([a + (640, 360)], rng), k / FPS).people.track_ids[0]
    partial = frame([a + (645, 360)], rng)
    partial.body[0, 2:, 2] = 0.0  # only Nose and Neck: fewer than min_common_joints
    assert tracker.update(partial, 5 / FPS).people.track_ids[0] == tid
    far = frame([a + (200, 360)], rng)
    far.body[0, 2:, 2] = 0.0
    assert tracker.update(far, 6 / FPS).people.track_ids[0] == -1


def test_stamps_backwards_reset_and_ids_are_never_reused(rng):
    a, b = template(rng), template(rng)
    tracker = Tracker2D()
    used = set()
    for loop in range(3):  # a bag played three times
        for k in range(15):
            out = tracker.update(frame([a + (400 + 3 * k, 360), b + (900, 360)], rng), 10 + k / FPS)
            assert out.reset == ("stamp_backwards" if loop and k == 0 else None)
            if loop and k == 0:
                assert set(out.ended) == ids_before
        ids_before = set(tracker.live_ids)
        assert len(ids_before) == 2 and not ids_before & used
        used |= ids_before


def test_image_size_change_resets(rng):
    a = template(rng)
    tracker = Tracker2D()
    for k in range(3):
        tracker.update(frame([a + (640, 360)], rng), k / FPS)
    small = People(BODY_25, (640, 360), frame([a / 2 + (320, 180)], rng).body, np.ones(1))
    out = tracker.update(small, 3 / FPS)
    assert out.reset == "image_size" and out.ended == (0,) and out.people.track_ids[0] == -1


def test_confirmation_after_min_hits_and_blips_cost_no_id(rng):
    a, ghost = template(rng), template(rng, height=150)
    tracker = Tracker2D(TrackerConfig(min_hits=3))
    ids = []
    for k in range(6):
        poses = [a + (400, 360)] + ([ghost + (1000, 300)] if k == 1 else [])
        ids.append(tracker.update(frame(poses, rng), k / FPS).people.track_ids)
    assert [int(i[0]) for i in ids] == [-1, -1, 0, 0, 0, 0]
    assert ids[1][1] == -1 and tracker.num_tracks == 1  # the one-frame ghost died unconfirmed
    late = template(rng)
    for k in range(6, 9):
        out = tracker.update(frame([a + (400, 360), late + (900, 360)], rng), k / FPS)
    assert list(out.people.track_ids) == [0, 1]  # the ghost used no id


def test_hands_and_faces_ride_with_their_person(rng):
    a = template(rng)
    tracker = Tracker2D()
    for k in range(3):
        people = frame([a + (400, 360), a + (900, 360)], rng)
        hands = np.zeros((2, HAND_21.num_parts, 3), np.float32)
        hands[1, :, 0] = 7.0  # marks the second row
        out = tracker.update(people.with_parts(left_hand=hands, right_hand=hands), k / FPS)
    assert (out.people.left_hand[1, :, 0] == 7).all() and out.people.has_hands
    assert list(out.people.track_ids) == [0, 1]


def test_similarity_and_overlap_helpers():
    a = np.array([[[0.0, 10.0, np.nan]], [[0.0, 0.0, np.nan]]])  # [2, 1, 3]: two joints, one missing
    sim, count = keypoint_similarity(a, a + 0.0, np.full((1, 1), 100.0), 0.1)
    assert sim[0, 0] == pytest.approx(1.0) and count[0, 0] == 2
    far, _ = keypoint_similarity(a, a + 30.0, np.full((1, 1), 100.0), 0.1)
    assert far[0, 0] < 0.02
    boxes = np.array([[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [2, 2, 4, 4]])
    boxes = boxes.T.reshape(2, 2, 4)  # [low/high, x/y, N]
    overlap = box_overlap(boxes[..., :3], boxes)
    assert overlap[0, 1] == pytest.approx(0.5) and overlap[0, 2] == 0 and overlap[0, 0] == 1
    assert overlap[0, 3] == 1 and overlap[1, 3] == 0


def reference_matches(cfg: TrackerConfig, pts: np.ndarray, pred: np.ndarray,
                      min_side: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """The matching of the module docstring, written pair by pair in float64: people
    ``pts [2, P, J]`` to predicted tracks ``pred [2, T, J]`` (NaN: missing). Returns the matched
    rows and columns (columns ascending) and counts of what the scene exercised."""
    def box(p):  # [2, J] -> (low, high) corners, None without a joint
        seen = ~np.isnan(p[0])
        return (p[:, seen].min(1), p[:, seen].max(1)) if seen.any() else None

    def padded(lo, hi):
        grow = np.maximum(cfg.box_padding * (hi - lo).max(), (min_side - (hi - lo)) / 2)
        return lo - grow, hi + grow

    num_people, num_tracks = pts.shape[1], pred.shape[1]
    sim, ok = np.zeros((num_people, num_tracks)), np.zeros((num_people, num_tracks), bool)
    used = {"oks": 0, "overlap": 0}
    for i in range(num_people):
        for k in range(num_tracks):
            a, b = pts[:, i], pred[:, k]
            if box(a) is None:
                continue
            (lo_a, hi_a), (lo_b, hi_b) = box(a), box(b)
            scale = max(np.sqrt(max(np.prod(hi_a - lo_a), np.prod(hi_b - lo_b))), min_side)
            shared = ~np.isnan(a[0]) & ~np.isnan(b[0])
            if shared.sum() >= cfg.min_common_joints:
                d2 = ((a[:, shared] - b[:, shared]) ** 2).sum(0)
                sim[i, k] = np.exp(-d2 / (2 * (cfg.kappa * scale) ** 2)).mean()
                ok[i, k] = sim[i, k] >= cfg.min_similarity
                used["oks"] += ok[i, k]
            else:
                (lo_a, hi_a), (lo_b, hi_b) = padded(lo_a, hi_a), padded(lo_b, hi_b)
                inter = np.prod(np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0, None))
                sim[i, k] = inter / min(np.prod(hi_a - lo_a), np.prod(hi_b - lo_b))
                ok[i, k] = sim[i, k] >= cfg.min_box_overlap
                used["overlap"] += ok[i, k]
    used["conflicts"] = int((ok.sum(0) > 1).sum() + (ok.sum(1) > 1).sum())
    rows, cols = linear_sum_assignment(np.where(ok, 1.0 - sim, 1e6))
    rows, cols = rows[ok[rows, cols]], cols[ok[rows, cols]]
    order = np.argsort(cols)
    return rows[order], cols[order], used


def test_matching_equals_a_pair_by_pair_reference(rng):
    """The vectorised cost and assignment (``Tracker2D._assign``) take the same pairs as the
    reference on crowded scenes: people near two tracks, people seen by two joints (box
    overlap), a person without a valid joint, tracks with never-seen joints."""
    cfg = TrackerConfig()
    min_side = cfg.min_box_fraction * max(SIZE)
    tracker = Tracker2D(cfg)
    used = {"oks": 0, "overlap": 0, "conflicts": 0}
    for _ in range(30):
        num_tracks = int(rng.integers(1, 25))
        pred = np.stack([template(rng, rng.uniform(80, 400)) + rng.uniform((0, 0), SIZE)
                         for _ in range(num_tracks)]).transpose(2, 0, 1)  # [2, T, 25]
        pred[:, rng.random(pred.shape[1:]) < 0.1] = np.nan
        pred[:, :, 0] = np.nan_to_num(pred[:, :, 0], nan=SIZE[1] / 2)  # a track has a joint
        people = pred[:, rng.permutation(num_tracks)[:int(rng.integers(0, num_tracks + 1))]]
        people = people + rng.normal(0, rng.uniform(1, 40), (2, people.shape[1], 1))
        intruders = pred[:, rng.integers(0, num_tracks, 3)] + rng.normal(0, 25, (2, 3, 1))
        people = np.concatenate([people, intruders], axis=1)
        people[:, rng.random(people.shape[1:]) < 0.1] = np.nan
        few = rng.random(people.shape[1]) < 0.15  # seen by two joints only
        people[:, few, 2:] = np.nan
        people[:, rng.integers(0, people.shape[1])] = np.nan  # no valid joint
        people = people[:, rng.permutation(people.shape[1])]
        rows, cols, counts = reference_matches(cfg, people, pred, min_side)
        got = tracker._assign(people, keypoint_boxes(people), pred, keypoint_boxes(pred), min_side)
        np.testing.assert_array_equal(got[0], rows)
        np.testing.assert_array_equal(got[1], cols)
        used = {k: used[k] + counts[k] for k in used}
    assert min(used.values()) >= 5, used  # the scenes exercised every path


def test_velocity_median_skips_missing_joints(rng):
    """The tracker's mask-free median equals numpy's median of the seen joints, rows with no
    joint (NaN) among them, the first and last row included."""
    for _ in range(100):
        values = rng.normal(size=(2, int(rng.integers(1, 8)), int(rng.integers(1, 6))))
        values[:, rng.random(values.shape[1:]) < 0.5] = np.nan
        values[:, [0, -1] if rng.random() < 0.3 else []] = np.nan
        expected = [[np.median(r[~np.isnan(r)]) if (~np.isnan(r)).any() else np.nan
                     for r in plane] for plane in values]
        np.testing.assert_array_equal(_nan_median(values), expected)


def test_config_rejects_nonsense():
    for bad in (dict(min_hits=0), dict(max_gap_s=-1.0), dict(kappa=0.0),
                dict(min_similarity=2.0), dict(min_box_overlap=-0.1), dict(velocity_smoothing=0.0)):
        with pytest.raises(ValueError):
            TrackerConfig(**bad)
