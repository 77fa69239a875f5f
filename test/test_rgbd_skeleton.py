"""What the RGB-D estimator takes from the skeleton: the limb's depth along the 2D bone, the
bones' reach (past a dropped parent, behind the body's band), and keypoints moved onto their
surface. Depth images are drawn here by hand (flat patches), so every expected depth is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25
from openpose_ros.people import People
from openpose_ros.rgbd import DepthGeometry, RgbdConfig, RgbdEstimator, window_clusters
from openpose_ros.rgbd.depth_window import (segment_clusters, select_depths, several_surfaces,
                                            surface_centres)
from openpose_ros.rgbd.skeleton import LIMB_RADIUS_M, bone_pairs, bone_steps
from openpose_ros.threed.cameras import Camera

SIZE = (320, 240)
CAMERA = Camera("c", np.array([[300.0, 0, 160.0], [0, 300.0, 120.0], [0, 0, 1]]), np.zeros(5),
                "plumb_bob", np.eye(3), np.zeros(3), SIZE)


def _flat_body(depth_m: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A body seen flat at ``depth_m``: its keypoints spread along a row (extent 200 px, so
    windows of 5 px), and the depth image; tests then move joints and paint patches."""
    depth = np.full((SIZE[1], SIZE[0]), depth_m, np.float32)
    kp = np.zeros((1, BODY_25.num_parts, 3), np.float32)
    kp[0, :, 0] = np.linspace(60, 260, BODY_25.num_parts)
    kp[0, :, 1], kp[0, :, 2] = 60.0, 0.9
    return depth, kp


def _estimate(depth, kp, **config):
    people = People(BODY_25, SIZE, kp, np.ones(len(kp)))
    return RgbdEstimator(DepthGeometry(CAMERA), RgbdConfig(**config)).estimate(people, depth)


def test_a_toe_just_off_its_foot_takes_the_foots_depth_not_the_floor_behind():
    """The toe's keypoint fell 2.5 px past the foot's tip onto the floor 0.25 m behind it (inside
    the body's band and the foot's reach): most of its window is floor. Along the 2D bone from
    the ankle the foot is seen, so the foot's depth wins, and the keypoint moves onto the foot."""
    depth, kp = _flat_body()
    ankle, toe = BODY_25.index("RAnkle"), BODY_25.index("RBigToe")
    depth[180:221, 60:200] = 3.25  # the floor behind the foot
    depth[195:206, 100:126] = 3.0  # the foot, x 100-125
    kp[0, ankle, :2], kp[0, toe, :2] = (108.0, 200.0), (128.5, 200.0)
    radius = LIMB_RADIUS_M["RBigToe"]
    got = _estimate(depth, kp).people.body[0, toe]
    assert abs(got[2] - (3.0 + radius)) < 0.02, got
    # moved onto the foot: the ray now passes the foot, left of the keypoint's 28.5 px from centre
    assert got[0] / got[2] * 300.0 + 160.0 < 127.0
    floor = _estimate(depth, kp, limb_prior=False, centre_on_surface=False).people.body[0, toe]
    assert abs(floor[2] - 3.25) < 0.03  # without the limb's depth: the floor


@pytest.mark.parametrize("knee_m, placed", [(3.4, True), (4.3, False)])
def test_a_leg_stepping_back_lies_behind_the_bodys_band_as_far_as_its_bone_reaches(knee_m, placed):
    """A knee 0.4 m behind a body at 3 m is farther than max_behind (0.3 m) but within the thigh's
    reach of its hip: placed. At 4.3 m (a wall) it is beyond any thigh: dropped, not placed."""
    depth, kp = _flat_body()
    hip, knee = BODY_25.index("RHip"), BODY_25.index("RKnee")
    kp[0, hip, :2], kp[0, knee, :2] = (150.0, 150.0), (150.0, 180.0)
    rows = np.arange(150, 180)  # the thigh, going back from the hip to the knee
    depth[150:180, 140:161] = (3.0 + (knee_m - 3.0) * (rows - 150) / 30.0)[:, None]
    depth[170:191, 140:161] = knee_m  # all the knee's window sees
    est = _estimate(depth, kp)
    got = est.people.body[0, knee]
    assert np.isfinite(got).all() == placed
    if placed:
        assert abs(got[2] - (knee_m + LIMB_RADIUS_M["RKnee"])) < 0.02
    banded = _estimate(depth, kp, bone_check=False).people.body[0, knee]
    assert np.isnan(banded).all()  # the body's band alone drops it


@pytest.mark.parametrize("heel_m, placed", [(3.45, True), (4.0, False)])
def test_past_a_dropped_parent_the_reach_is_measured_from_the_next_placed_ancestor(heel_m, placed):
    """The ankle's keypoint sees only a wall 6 m away (dropped); the heel is then checked against
    the knee with the shank and heel bones together: 0.45 m behind it is in reach, 1 m is not."""
    depth, kp = _flat_body()
    knee, ankle, heel = (BODY_25.index(n) for n in ("RKnee", "RAnkle", "RHeel"))
    kp[0, knee, :2], kp[0, ankle, :2], kp[0, heel, :2] = (100.0, 150.0), (100.0, 190.0), (112.0, 196.0)
    depth[183:198, 93:106] = 6.0  # around the ankle: the wall
    depth[189:204, 106:119] = heel_m
    est = _estimate(depth, kp)
    assert np.isnan(est.people.body[0, ankle]).all()
    assert np.isfinite(est.people.body[0, heel]).all() == placed


def test_surface_centres_move_a_keypoint_onto_its_limb():
    """A keypoint 2 px right of a vertical limb (x 30-35, at 2 m before a 4 m wall): the centre of
    the limb's samples in its window lies left of it, on the limb; on a surface filling the
    window the keypoint stays (a limb wider than the window has no centre to find)."""
    depth = np.full((60, 80), 4.0, np.float32)
    depth[:, 30:36] = 2.0
    kp = np.array([[37.0, 30.0], [60.0, 30.0]])
    clusters = window_clusters(depth, kp, np.full(2, 6.0))
    z = select_depths(clusters, near_m=np.array([1.5, 3.5]), far_m=np.array([2.5, 4.5]))
    shift = surface_centres(clusters, z)
    assert -6.5 < shift[0, 0] < -2.0 and abs(shift[0, 1]) < 0.5  # onto the limb (x 30-35)
    np.testing.assert_allclose(shift[1], 0.0, atol=1e-9)
    assert several_surfaces(clusters, np.array([1.0, 1.0])).tolist() == [True, False]


def test_segment_clusters_pool_the_samples_along_a_bone():
    """Samples along the segment from a parent to a keypoint that fell off the limb: the limb
    (2 m) holds the segment's inner part, so it is the supported cluster within the limits."""
    depth = np.full((60, 80), 3.0, np.float32)
    depth[25:36, 10:40] = 2.0  # the limb, x 10-39
    clusters = segment_clusters(depth, np.array([[15.0, 30.0]]), np.array([[44.0, 30.0]]),
                                np.array([0.5, 0.6, 0.7, 0.8]), np.array([1.0]))
    assert clusters.s.shape == (1, 16)
    got = select_depths(clusters, near_m=np.array([1.0]), far_m=np.array([3.5]))
    assert abs(got[0] - 2.0) < 1e-3


def test_bone_tables():
    steps = bone_steps(BODY_25)
    placed = {BODY_25.index(n) for n in ("Neck", "RShoulder", "LShoulder", "RHip", "LHip", "MidHip")}
    for joints, parents, lengths in steps:  # parents first
        assert all(int(p) in placed for p in parents) and (lengths > 0).all()
        placed |= {int(j) for j in joints}
    assert BODY_25.index("RBigToe") in placed and bone_steps(BODY_25) is steps  # cached
    ok = np.zeros((2, BODY_25.num_parts), bool)
    ok[1, [BODY_25.index("RKnee"), BODY_25.index("RAnkle")]] = True
    person, joint, parent = bone_pairs(BODY_25, ok)
    assert person.tolist() == [1] and joint.tolist() == [BODY_25.index("RAnkle")]
    assert parent.tolist() == [BODY_25.index("RKnee")]


def test_a_person_behind_another_takes_its_own_depth_not_the_front_persons():
    """Person A at 2 m fills a box; person B stands 2 m behind, only its torso seen beside A
    (at 4 m), its other keypoints inside A's box. B's depth comes from its own torso: the torso
    is placed at 4 m and B's joints that see A are dropped, not put on A."""
    depth = np.full((SIZE[1], SIZE[0]), 6.0, np.float32)  # the wall
    depth[20:221, 40:201] = 2.0  # person A
    depth[20:221, 230:311] = 4.0  # what is seen of person B
    kp = np.zeros((2, BODY_25.num_parts, 3), np.float32)
    grid = np.stack(np.meshgrid(np.linspace(60, 180, 5), np.linspace(40, 200, 5)), -1).reshape(-1, 2)
    kp[0, :, :2], kp[0, :, 2] = grid, 0.9
    kp[1, :, :2], kp[1, :, 2] = grid + 4.0, 0.9  # inside A's box
    torso = [BODY_25.index(n) for n in ("Neck", "RShoulder", "LShoulder", "MidHip", "RHip", "LHip")]
    kp[1, torso, 0] = np.linspace(240, 300, len(torso))
    est = _estimate(depth, kp)
    a, b = est.people.body[list(est.kept).index(0)], est.people.body[list(est.kept).index(1)]
    radii = np.array([LIMB_RADIUS_M.get(n, 0.0) for n in BODY_25.part_names])
    np.testing.assert_allclose(b[torso, 2], 4.0 + radii[torso], atol=0.02)
    others = np.setdiff1d(np.arange(BODY_25.num_parts), torso)
    assert np.isnan(b[others]).all()
    np.testing.assert_allclose(a[:, 2], 2.0 + radii, atol=0.02)
