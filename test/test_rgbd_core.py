"""The RGB-D core (ROS-free): the windowed depth lookup, the estimator, ids, and the renderer.

Scenes are rendered here from known geometry (a sphere's exact depth, capsule people from a
hand-made pose), so every expected value is known independently of the estimator.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.evaluation.rgbd_synthetic import (
    keypoints_2d,
    look_at,
    render_depth,
    sensor_depth,
    visible_joints,
)
from openpose_ros.layouts import BODY_25, FACE_70, HAND_21
from openpose_ros.people import People
from openpose_ros.rgbd import (
    DepthGeometry,
    RgbdConfig,
    RgbdEstimator,
    RgbdIdentity,
    RgbdInputError,
    WindowConfig,
    select_depths,
    single_pixel_depths,
    window_clusters,
    window_depths,
)
from openpose_ros.threed.cameras import Camera

from rgbd_scene import LENSES, SIZE, camera as _camera, exact_people as _exact_people  # noqa: E402
from rgbd_scene import person as _person, scene as _scene  # noqa: E402


# -- the windowed lookup ---------------------------------------------------------------------

def test_window_takes_the_foreground_where_the_single_pixel_sees_the_wall():
    depth = np.full((60, 80), 4.0, np.float32)
    depth[20:40, 30:50] = 2.0  # a limb in front of a wall
    depth[::7, ::3] = np.nan  # missing pixels
    rng = np.random.default_rng(0)
    depth += rng.normal(0, 0.01, depth.shape).astype(np.float32)
    edge = np.array([[51.5, 30.0], [28.0, 30.0], [40.0, 18.5]])  # 1.5-2 px off the square
    np.testing.assert_allclose(single_pixel_depths(depth, edge), 4.0, atol=0.05)
    np.testing.assert_allclose(window_depths(depth, edge, np.full(3, 6.0)), 2.0, atol=0.02)
    far = np.array([[10.0, 10.0], [np.nan, 5.0]])  # only wall in the window; NaN keypoint
    got = window_depths(depth, far, np.full(2, 6.0))
    assert abs(got[0] - 4.0) < 0.02 and np.isnan(got[1])


def test_a_limb_in_front_at_the_window_rim_is_not_taken_for_the_keypoints_own():
    """A hip at 3 m with a hand 0.4 m in front of it over a third of the window: the foreground
    is the hand; within the body's band the cluster around the keypoint (the hip) is chosen."""
    rng = np.random.default_rng(1)
    depth = (3.0 + rng.normal(0, 0.01, (60, 60))).astype(np.float32)  # the hip
    depth[:, 34:] = 2.6  # the hand, covering the window's right third
    kp, r = np.array([[30.0, 30.0]]), np.array([6.0])
    clusters = window_clusters(depth, kp, r)
    assert abs(select_depths(clusters)[0] - 2.6) < 0.02  # the nearest cluster: the hand
    got = select_depths(clusters, near_m=np.array([2.2]), far_m=np.array([3.3]))
    assert abs(got[0] - 3.0) < 0.02
    # only the hand inside the limits: the hand; nothing inside: NaN (dropped, not placed)
    hand = select_depths(clusters, near_m=np.array([2.4]), far_m=np.array([2.8]))
    assert abs(hand[0] - 2.6) < 0.02
    assert np.isnan(select_depths(clusters, near_m=np.array([3.5]), far_m=np.array([4.0]))[0])


def test_window_on_a_slanted_surface_keeps_the_dense_part():
    """A floor sloping towards the camera below a foot: the foot (dense, flat) wins."""
    depth = np.tile(np.linspace(3.3, 2.7, 60, dtype=np.float32)[:, None], (1, 60))  # the floor
    depth[10:32, 20:40] = 3.0  # the foot, in front of the floor's farther rows
    got = window_depths(depth, np.array([[30.0, 30.0]]), np.array([10.0]), WindowConfig())
    assert abs(got[0] - 3.0) < 0.03


# -- the estimator -----------------------------------------------------------------------------

@pytest.mark.parametrize("model", list(LENSES))
def test_registered_depth_gives_the_joint_centres_through_each_lens(model):
    camera = _camera(model)
    world = _person()[None]
    z, _ = _scene(camera, world)
    people = _exact_people(camera, world)
    est = RgbdEstimator(DepthGeometry(camera)).estimate(people, z)
    truth = camera.to_camera(world)
    d = np.linalg.norm(est.people.body - truth, axis=-1)
    found = np.isfinite(d)
    assert found.sum() >= 15 and float(np.nanmean(d)) < 0.03, np.round(d, 3)
    single = RgbdEstimator(DepthGeometry(camera), RgbdConfig(method="single_pixel")).estimate(people, z)
    # without the limb radius the surface is centimetres in front of the joints
    assert float(np.nanmean(np.linalg.norm(single.people.body - truth, axis=-1))) > np.nanmean(d) + 0.01


def test_unregistered_depth_through_its_own_camera_and_extrinsic():
    color = _camera("plumb_bob")
    K_d = np.array([[250.0, 0, 158.0], [0, 250.0, 121.0], [0, 0, 1]])
    centre = color.center + color.R[0] * 0.05  # 5 cm to the colour camera's right
    depth_world = look_at("depth", K_d, [0.02, -0.01, 0, 0, 0], "plumb_bob", SIZE, centre,
                          np.array([0.05, 0.0, 1.0]))
    # colour-frame point -> depth frame: X_d = R_d (R_c^T (X_c - t_c)) + t_d
    R = depth_world.R @ color.R.T
    depth_cam = Camera("depth", K_d, depth_world.dist, "plumb_bob", R, depth_world.t - R @ color.t, SIZE)
    world = _person()[None]
    z, _ = _scene(depth_world, world)
    people = _exact_people(color, world)
    est = RgbdEstimator(DepthGeometry(color, depth_cam)).estimate(people, z)
    d = np.linalg.norm(est.people.body - color.to_camera(world), axis=-1)
    assert np.isfinite(d).sum() >= 15 and float(np.nanmean(d)) < 0.035, np.round(d, 3)


def test_joints_that_see_only_the_wall_are_dropped_not_placed_behind():
    camera = _camera()
    world = _person()[None]
    z, label = _scene(camera, world, wall_y=1.5)
    people = _exact_people(camera, world)
    wrist = BODY_25.index("RWrist")
    people.body[0, wrist, 0] -= 25  # 25 px off the arm: only the wall around it
    assert label[int(round(people.body[0, wrist, 1])), int(round(people.body[0, wrist, 0]))] == -3
    est = RgbdEstimator(DepthGeometry(camera)).estimate(people, z)
    assert np.isnan(est.people.body[0, wrist]).all() and est.inconsistent >= 1
    assert np.isfinite(est.people.body[0, BODY_25.index("Neck")]).all()


@pytest.mark.parametrize("patch_m, kept", [(3.28, False), (3.1, True)])
def test_a_joint_beyond_its_bone_from_its_parent_is_dropped(patch_m, kept):
    """A flat body at 3 m; the heel's window sees only a surface 0.28 m behind (inside the body's
    band, but farther from the ankle 20 px away than a heel bone reaches): dropped with the bone
    check, placed without it; 0.1 m behind is within reach and kept."""
    K = np.array([[300.0, 0, 160.0], [0, 300.0, 120.0], [0, 0, 1]])
    cam = Camera("c", K, np.zeros(5), "plumb_bob", np.eye(3), np.zeros(3), SIZE)
    depth = np.full((SIZE[1], SIZE[0]), 3.0, np.float32)
    kp = np.zeros((1, BODY_25.num_parts, 3), np.float32)
    kp[0, :, 0] = np.linspace(60, 260, BODY_25.num_parts)
    kp[0, :, 1], kp[0, :, 2] = 60.0, 0.9
    ankle, heel = BODY_25.index("RAnkle"), BODY_25.index("RHeel")
    kp[0, ankle, :2], kp[0, heel, :2] = (100.0, 200.0), (120.0, 200.0)
    depth[190:211, 112:129] = patch_m  # all the heel's window sees
    people = People(BODY_25, SIZE, kp, np.ones(1))
    gated = RgbdEstimator(DepthGeometry(cam)).estimate(people, depth)
    assert np.isfinite(gated.people.body[0, ankle]).all()
    assert np.isfinite(gated.people.body[0, heel]).all() == kept
    plain = RgbdEstimator(DepthGeometry(cam), RgbdConfig(bone_check=False)).estimate(people, depth)
    assert abs(plain.people.body[0, heel, 2] - patch_m) < 0.05


def test_size_mismatch_and_empty_frames():
    camera = _camera()
    est = RgbdEstimator(DepthGeometry(camera))
    with pytest.raises(RgbdInputError, match="colour image"):
        est.estimate(People.empty(BODY_25, SIZE), np.zeros((10, 10), np.float32))
    out = est.estimate(People.empty(BODY_25, SIZE), np.full(SIZE[::-1], np.nan, np.float32))
    assert len(out.people) == 0
    nan_depth = est.estimate(_exact_people(camera, _person()[None]),
                             np.full(SIZE[::-1], np.nan, np.float32))
    assert len(nan_depth.people) == 0 and nan_depth.no_depth > 10


def test_hands_and_faces_come_out_in_3d():
    camera = _camera()
    world = _person()[None]
    z, _ = _scene(camera, world)
    people = _exact_people(camera, world)
    wrist = people.body[0, BODY_25.index("RWrist"), :2]
    nose = people.body[0, BODY_25.index("Nose"), :2]
    hand = np.concatenate([wrist + np.random.default_rng(1).normal(0, 1.5, (21, 2)),
                           np.full((21, 1), 0.8)], axis=1)[None].astype(np.float32)
    face = np.concatenate([nose + np.random.default_rng(2).normal(0, 2, (70, 2)),
                           np.full((70, 1), 0.8)], axis=1)[None].astype(np.float32)
    people = People(BODY_25, SIZE, people.body, [1.0], left_hand=np.full((1, 21, 3), np.nan, np.float32),
                    right_hand=hand, face=face)
    out = RgbdEstimator(DepthGeometry(camera)).estimate(people, z).people
    assert out.left_hand.layout is HAND_21 and out.face.layout is FACE_70
    assert not out.left_hand.valid.any()
    rz = camera.to_camera(world)[0, BODY_25.index("RWrist"), 2]
    assert out.right_hand.valid.sum() > 10
    assert abs(np.nanmedian(out.right_hand.body[0, :, 2]) - rz) < 0.08
    assert out.face.valid.sum() > 30


def test_ids_follow_2d_else_the_3d_tracker():
    camera = _camera()
    world = _person()[None]
    z, _ = _scene(camera, world)
    people = _exact_people(camera, world)
    est = RgbdEstimator(DepthGeometry(camera))
    identity = RgbdIdentity()
    a, _ = identity.update(est.estimate(people, z).people, 0.0)
    b, _ = identity.update(est.estimate(people, z).people, 0.033)
    assert a.track_ids[0] == b.track_ids[0] == 0  # 3D tracker, same person
    people.track_ids[:] = 42
    c, _ = identity.update(est.estimate(people, z).people, 0.066)
    assert c.track_ids[0] == 42
    _, ended = identity.update(est.estimate(People.empty(BODY_25, SIZE), z).people, 5.0)
    assert 42 in ended


# -- the renderer ----------------------------------------------------------------------------

def test_renderer_depth_of_a_sphere_and_the_wall():
    camera = _camera(center=(0.0, -3.0, 1.0), target=(0.0, 0.0, 1.0))
    head = np.full((1, BODY_25.num_parts, 3), np.nan)
    head[0, BODY_25.index("Nose")] = (0.0, 0.0, 1.0)  # a lone head sphere (r 0.095) 3 m away
    z, label = render_depth(camera, head, floor_z=None, wall=(np.array([0.0, 1.0, 0.0]), 1.0))
    cx, cy = (int(round(v)) for v in camera.project(np.array([0.0, 0.0, 1.0])))
    assert label[cy, cx] == 0 and abs(z[cy, cx] - (3.0 - 0.095)) < 5e-4
    assert label[5, 5] == -3 and abs(z[5, 5] - 4.0) < 0.25  # the wall, 4 m (slightly off-axis)


def test_sensor_defects_and_keypoints_off_the_silhouette():
    rng = np.random.default_rng(4)
    camera = _camera()
    world = _person()[None]
    z, label = _scene(camera, world)
    depth = sensor_depth(z, rng, missing=0.1)
    lost = np.isnan(depth) & np.isfinite(z)
    assert 0.08 < lost.mean() < 0.12
    kp, moved = keypoints_2d(camera, world, label, rng, noise_px=0.0, outside=1.0, reach_px=6.0)
    assert moved.sum() >= 10
    truth = camera.project(world)[0]
    shift = np.linalg.norm(kp[0, :, :2] - truth, axis=-1)
    still = ~moved[0] & np.isfinite(shift)
    assert (shift[moved[0]] <= 6.0 + 3.0 + 1.0).all() and (shift[still] < 1e-3).all()  # just off
    px = np.rint(kp[moved][:, :2]).astype(int)
    assert (label[px[:, 1], px[:, 0]] != 0).all()  # each moved keypoint is off the person
    assert visible_joints(camera, world, z, label)[0, BODY_25.index("Neck")]
