"""REP-155 core: skeleton mapping by name, normalisation, face landmarks, ROIs, the body frame,
the id scheme and id lifetimes (no ROS)."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.hri.body_frame import hip_midpoint, torso_rotation
from openpose_ros.hri.ids import IdLifetimes, body_id, check_prefix, input_prefixes
from openpose_ros.hri.skeleton import (SKELETON_JOINTS, face_landmarks, normalise,
                                       regions_of_interest, skeleton_2d, skeleton_indices)
from openpose_ros.layouts import BODY_25, COCO_18, FACE_70, MPI_15

REP155_INDEX = {name: i for i, (name, _) in enumerate(SKELETON_JOINTS)}


def _numbered(layout, size=(640, 480)):
    """One person whose joint j sits at pixel (10 + j, 20 + 2 j) with score 0.5 + j / 100."""
    body = np.zeros((1, layout.num_parts, 3), np.float32)
    j = np.arange(layout.num_parts)
    body[0, :, 0], body[0, :, 1], body[0, :, 2] = 10 + j, 20 + 2 * j, 0.5 + j / 100
    return body, size


@pytest.mark.parametrize("layout", [BODY_25, COCO_18, MPI_15], ids=lambda lay: lay.name)
def test_skeleton_points_come_from_the_joint_of_the_same_name(layout):
    body, (w, h) = _numbered(layout)
    sk = skeleton_2d(body, layout, (w, h))
    assert sk.shape == (1, 18, 3)
    for k, (_, ours) in enumerate(SKELETON_JOINTS):
        if layout.has(ours):
            j = layout.index(ours)
            np.testing.assert_allclose(sk[0, k], [(10 + j) / w, (20 + 2 * j) / h, 0.5 + j / 100],
                                       rtol=1e-6)
        else:  # a joint the layout lacks: (0, 0, c = 0)
            assert not sk[0, k].any(), (layout.name, ours)


def test_eyes_and_ears_are_swapped_against_coco_indices():
    """REP-155 LEFT_EYE=14 is COCO's LEye=15; mapping by index would swap left and right."""
    assert REP155_INDEX["LEFT_EYE"] == 14 and COCO_18.index("LEye") == 15
    idx = skeleton_indices(COCO_18)
    assert idx[REP155_INDEX["LEFT_EYE"]] == COCO_18.index("LEye")
    assert idx[REP155_INDEX["RIGHT_EYE"]] == COCO_18.index("REye")
    assert idx[REP155_INDEX["LEFT_EAR"]] == COCO_18.index("LEar")
    assert idx[REP155_INDEX["RIGHT_EAR"]] == COCO_18.index("REar")
    assert idx[REP155_INDEX["LEFT_EYE"]] == 15 and idx[REP155_INDEX["RIGHT_EAR"]] == 16
    # BODY_25 has a MidHip between neck and hips: hips shift by one
    assert skeleton_indices(BODY_25)[REP155_INDEX["RIGHT_HIP"]] == BODY_25.index("RHip") == 9
    assert (skeleton_indices(MPI_15) == -1).sum() == 5  # no nose, eyes, ears


def test_normalise_clips_and_zeroes_missing_and_nan_points():
    kp = np.array([[[-5, 10, 0.9], [700, 500, 0.8], [320, 240, 0.0], [np.nan, 3, 0.7],
                    [10, 10, np.nan], [320, 120, 1.5]]], np.float32)
    out = normalise(kp, (640, 480))
    np.testing.assert_allclose(out[0, 0], [0, 10 / 480, 0.9], rtol=1e-6)
    np.testing.assert_allclose(out[0, 1], [1, 1, 0.8], rtol=1e-6)
    assert not out[0, 2:5].any()
    np.testing.assert_allclose(out[0, 5], [0.5, 0.25, 1.0])
    assert ((out >= 0) & (out <= 1)).all()
    assert not normalise(kp, (640, 480), min_score=0.85)[0, 1].any()
    with pytest.raises(ValueError, match="empty"):
        normalise(kp, (0, 480))


def test_face_landmarks_keep_face70_order_with_pupils_last():
    face = np.zeros((2, 70, 3), np.float32)
    face[1, :, 0] = np.arange(70)
    face[1, :, 1] = 100
    face[1, :, 2] = 0.6
    out = face_landmarks(face, (140, 200))
    assert out.shape == (2, 70, 3) and not out[0].any()
    np.testing.assert_allclose(out[1, :, 0], np.arange(70) / 140, rtol=1e-6)
    assert FACE_70.part_names[68:] == ("RPupil", "LPupil")


def test_regions_of_interest_bound_the_valid_joints():
    kp = np.full((3, 4, 3), np.nan, np.float32)
    kp[:, :, 2] = 0
    kp[0, :2] = [[100, 50, 0.4], [300, 250, 0.8]]
    kp[1, 0] = [600, 470, 1.0]
    boxes, ok = regions_of_interest(kp, (640, 480))
    assert ok.tolist() == [True, True, False]
    np.testing.assert_allclose(boxes[0], [100 / 640, 50 / 480, 300 / 640, 250 / 480, 0.6],
                               rtol=1e-6)
    assert not boxes[2].any()
    padded, _ = regions_of_interest(kp, (640, 480), padding=0.5)
    np.testing.assert_allclose(padded[0, :4], [0, 0, 400 / 640, 350 / 480], rtol=1e-6)
    assert ((padded >= 0) & (padded <= 1)).all()


def _standing(facing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BODY_25 joints of a person standing up +Z, chest facing ``facing`` (a unit xy vector)."""
    left = np.cross([0, 0, 1.0], facing)  # the person's left, seen from above
    body = np.full((25, 3), np.nan)
    at = {"MidHip": [0, 0, 1.0], "Neck": [0, 0, 1.5], "RHip": -0.1 * left + [0, 0, 1.0],
          "LHip": 0.1 * left + [0, 0, 1.0], "RShoulder": -0.2 * left + [0, 0, 1.45],
          "LShoulder": 0.2 * left + [0, 0, 1.45], "Nose": 0.1 * facing + [0, 0, 1.65]}
    for name, p in at.items():
        body[BODY_25.index(name)] = p
    return body + [2.0, -1.0, 0.0], np.isfinite(body).all(axis=1)


@pytest.mark.parametrize("facing", [(1, 0, 0), (0, 1, 0), (-0.6, 0.8, 0)])
def test_body_frame_is_at_the_hips_x_forward_z_up(facing):
    facing = np.array(facing, float)
    body, valid = _standing(facing)
    np.testing.assert_allclose(hip_midpoint(body, valid, BODY_25), [2, -1, 1])
    R = torso_rotation(body, valid, BODY_25)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R[:, 0], facing, atol=1e-9)  # x: where the chest faces
    np.testing.assert_allclose(R[:, 2], [0, 0, 1], atol=1e-9)  # z: up the torso
    # the same person without MidHip (COCO): hips' midpoint
    coco = np.full((18, 3), np.nan)
    for name in ("RHip", "LHip", "Neck", "RShoulder", "LShoulder"):
        coco[COCO_18.index(name)] = body[BODY_25.index(name)]
    cvalid = np.isfinite(coco).all(axis=1)
    np.testing.assert_allclose(hip_midpoint(coco, cvalid, COCO_18), [2, -1, 1], atol=1e-12)
    np.testing.assert_allclose(torso_rotation(coco, cvalid, COCO_18), R, atol=1e-9)


def test_body_frame_needs_a_torso():
    body, valid = _standing(np.array([1.0, 0, 0]))
    valid = valid.copy()
    for name in ("RShoulder", "LShoulder", "RHip", "LHip"):
        valid[BODY_25.index(name)] = False
    assert torso_rotation(body, valid, BODY_25) is None
    valid[BODY_25.index("MidHip")] = False
    assert hip_midpoint(body, valid, BODY_25) is None


def test_ids_are_unique_across_inputs_and_valid_names():
    prefixes = input_prefixes(3, ["", "head"])
    assert prefixes == ["c0", "head", "c2"]
    ids = {body_id(p, t) for p in ["c1", "c12", "c"] for t in (1, 2, 12, 21)}
    assert len(ids) == 12
    assert body_id("c0", 12) == "c0_12"
    for bad in ("0cam", "a__b", "cam_", "ca-m", ""):
        assert check_prefix(bad), bad
    with pytest.raises(ValueError, match="distinct"):
        input_prefixes(2, ["c1", ""])
    with pytest.raises(ValueError, match="2 inputs"):
        input_prefixes(2, ["a", "b", "c"])
    with pytest.raises(ValueError, match="untracked"):
        body_id("c0", -1)


def test_lifetimes_create_once_and_release_after_the_linger_time():
    life = IdLifetimes(linger_s=2.0, max_ids=100)
    assert life.seen(["a", "b"], 0.0) == (["a", "b"], [])
    assert life.seen(["a"], 1.0) == ([], [])
    assert life.seen(["a"], 2.0) == ([], [])  # b last seen 2.0 s ago: still held
    assert life.seen(["a"], 2.5) == ([], ["b"])
    assert life.expire(4.4) == [] and life.expire(4.6) == ["a"]
    assert len(life) == 0
    assert life.seen(["a"], 5.0) == (["a"], [])  # a comes back: created again


def test_lifetimes_stay_bounded_over_hours_of_people_coming_and_going():
    rng = np.random.default_rng(0)
    life = IdLifetimes(linger_s=5.0, max_ids=40)
    held_max, created, released = 0, 0, 0
    next_id, present = 0, []
    for step in range(36_000):  # 10 h at 1 Hz, a new person about every 3 s, each staying ~20 s
        now = float(step)
        if rng.random() < 0.3:
            present.append((f"c0_{next_id}", now + rng.exponential(20)))
            next_id += 1
        present = [(i, until) for i, until in present if until > now]
        new, gone = life.seen([i for i, _ in present], now)
        created += len(new)
        released += len(gone)
        held_max = max(held_max, len(life))
        assert {i for i, _ in present} <= set(life.held)
    assert created == next_id > 10_000
    assert created - released == len(life)
    assert held_max <= 40


def test_lifetime_cap_releases_the_least_recently_seen_absent_ids():
    life = IdLifetimes(linger_s=100.0, max_ids=3)
    for t, ident in enumerate("abc"):
        life.seen([ident], float(t))
    new, gone = life.seen(["d", "b"], 3.0)
    assert new == ["d"] and gone == ["a"]
    assert set(life.held) == {"b", "c", "d"}
    assert sorted(life.release_all()) == ["b", "c", "d"] and len(life) == 0
