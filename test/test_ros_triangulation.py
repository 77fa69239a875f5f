"""The triangulation node over real rclpy and DDS, in one process.

A test node publishes one ``Pose2DArray`` per camera and frame (4 real CMU Panoptic HD cameras,
the Panoptic ground-truth people projected with lens distortion, 1 px noise, stamps jittered per
camera) and listens to ``poses3d``, ``/tf``, ``/tf_static`` and the markers. Bad input (zero and
missing CameraInfo, an unknown frame, NaN keypoints, a layout mismatch) must give warnings and
counted drops, no wrong output, and a node that keeps working.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from openpose_ros.layouts import BODY_25, COCO_18  # noqa: E402
from openpose_ros.msg import Pose2DArray, Pose3DArray  # noqa: E402
from openpose_ros.people import People  # noqa: E402
from openpose_ros.ros.convert import people_to_msg  # noqa: E402
from openpose_ros.ros.convert3d import msg_to_people3d  # noqa: E402
from openpose_ros.ros.tf_publish import tf_qos, tf_static_qos  # noqa: E402
from openpose_ros.ros.triangulation_node import TriangulationNode  # noqa: E402
from openpose_ros.threed.calibration_io import (  # noqa: E402
    CameraEntry,
    RigCalibration,
    load_calibration,
    save_rig_yaml,
)
from openpose_ros.threed.cameras import CalibrationError, Intrinsics, Rig  # noqa: E402
from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, to_layout  # noqa: E402
from openpose_ros.evaluation.multiview import (  # noqa: E402
    match_people,
    mpjpe_mm,
    spread_cameras,
    synthetic_parts,
    synthetic_views,
)
from ros_utils import spin_until, wait_for_subscribers  # noqa: E402

PANOPTIC = "multiview/panoptic_160906_band1_gt3d"
NAMES = ("cam0", "cam1", "cam2", "cam3")
T0 = 1_700_000_000 * 1_000_000_000
PERIOD = 33_000_000


@pytest.fixture(scope="module")
def scene(shared_data):
    rig = load_calibration(shared_data / PANOPTIC / "calibration_160906_band1.json").rig()
    _, joints, conf = load_panoptic_bodies(shared_data / PANOPTIC / "hdPose3d_stage1_coco19/body3DScene_00000168.json")
    truth = to_layout(np.where((conf > 0.1)[..., None], joints, np.nan), PANOPTIC_JOINTS19)
    cams = rig.subset(spread_cameras(rig, truth, 4)).cameras
    return cams, truth


def _rig_file(tmp_path, cams, *, without_intrinsics=()):
    entries = tuple(
        CameraEntry(name, c.R, c.t, None if name in without_intrinsics else
                    Intrinsics(c.K, c.dist, c.distortion_model, c.image_size))
        for name, c in zip(NAMES, cams))
    path = tmp_path / "rig.yaml"
    save_rig_yaml(RigCalibration(entries, "world"), path)
    return str(path)


class Harness:
    """Test publishers and subscribers around one TriangulationNode."""

    def __init__(self, context, calibration: str, **params):
        overrides = [Parameter("calibration_file", value=calibration), Parameter("track_max_age", value=0.05),
                     Parameter("warn_period", value=0.0)]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.node = TriangulationNode(context=context, parameter_overrides=overrides)
        self.test = Node("triangulation_test", context=context)
        self.pubs = {n: self.test.create_publisher(Pose2DArray, f"/{n}/poses", 10) for n in NAMES}
        self.info_pubs = {n: self.test.create_publisher(CameraInfo, f"/{n}/camera_info", 10) for n in NAMES}
        self.poses, self.tf, self.tf_static, self.markers = [], [], [], []
        self.test.create_subscription(Pose3DArray, "/poses3d", self.poses.append, 10)
        self.test.create_subscription(TFMessage, "/tf", self.tf.append, tf_qos())
        self.test.create_subscription(TFMessage, "/tf_static", self.tf_static.append, tf_static_qos())
        self.test.create_subscription(MarkerArray, "/poses3d/markers", self.markers.append, 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.test)
        for pub in self.pubs.values():
            wait_for_subscribers(self.executor, pub)

    def send(self, views: dict[str, People], frame: int, rng, *, frame_ids=None) -> dict[str, int]:
        stamps = {}
        for name in NAMES:
            if name not in views:
                continue
            stamps[name] = T0 + frame * PERIOD + int(rng.integers(-3_000_000, 3_000_000))
            header = Header(frame_id=(frame_ids or {}).get(name, name))
            header.stamp.sec, header.stamp.nanosec = divmod(stamps[name], 1_000_000_000)
            self.pubs[name].publish(people_to_msg(views[name], header))
        return stamps

    def spin_until(self, done, timeout=10.0):
        return spin_until(self.executor, done, timeout)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.test.destroy_node()


def _views(cams, truth, rng):
    rig = Rig(tuple(cams))
    views, _ = synthetic_views(rig, BODY_25, truth, rng, noise_px=1.0, drop=0.0, corrupt=False)
    return {name: views[c.name] for name, c in zip(NAMES, cams)}


def test_end_to_end_poses_tf_and_markers(ros_context, scene, tmp_path):
    cams, truth = scene
    h = Harness(ros_context, _rig_file(tmp_path, cams))
    try:
        rng = np.random.default_rng(0)
        assert h.spin_until(lambda: h.tf_static)  # cameras, latched
        static = {t.child_frame_id: t for t in h.tf_static[-1].transforms}
        assert set(static) == set(NAMES) and {t.header.frame_id for t in static.values()} == {"world"}
        c = static["cam2"].transform.translation
        np.testing.assert_allclose([c.x, c.y, c.z], cams[2].center, atol=1e-6)

        sent = []
        for frame in range(3):
            sent.append(h.send(_views(cams, truth, rng), frame, rng))
            assert h.spin_until(lambda: len(h.poses) == frame + 1), h.node.problems
        ids = None
        for msg, stamps in zip(h.poses, sent):
            assert msg.header.frame_id == "world" and msg.num_views == 4 and msg.layout == BODY_25.msg_id
            got = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            assert got == int(round(np.mean(list(stamps.values()))))  # the set's time
            people = msg_to_people3d(msg)
            err, found = mpjpe_mm(people.body.astype(float), truth)
            assert len(people) == 3 and err < 10.0 and found > 0.95
            ids = ids if ids is not None else sorted(people.track_ids.tolist())
            assert sorted(people.track_ids.tolist()) == ids  # stable over time
        assert h.spin_until(lambda: len(h.tf) >= 3 and len(h.markers) >= 3)
        frames = {t.child_frame_id: t for t in h.tf[-1].transforms}
        for tid in ids:
            assert frames[f"body_{tid}"].header.frame_id == "world"
            assert frames[f"body_{tid}/Neck"].header.frame_id == f"body_{tid}"
            assert frames[f"body_{tid}"].header.stamp == h.poses[-1].header.stamp
        markers = h.markers[-1].markers
        assert {(m.ns, m.id) for m in markers} == {(ns, i) for ns in ("joints", "limbs", "labels") for i in ids}
        # One person leaves: their markers are deleted, the others stay.
        views = _views(cams, truth[:2], rng)
        h.send(views, 3, rng)
        assert h.spin_until(lambda: len(h.poses) == 4 and len(h.markers) >= 4)
        (gone,) = set(ids) - set(msg_to_people3d(h.poses[-1]).track_ids.tolist())
        deleted = {(m.ns, m.id) for m in h.markers[-1].markers if m.action == Marker.DELETE}
        assert deleted == {(ns, gone) for ns in ("joints", "limbs", "labels")}
        assert sum(h.node.drops.values()) == 0
    finally:
        h.close()


def test_bad_input_warns_drops_and_keeps_running(ros_context, scene, tmp_path):
    cams, truth = scene
    h = Harness(ros_context, _rig_file(tmp_path, cams, without_intrinsics=("cam3",)))
    try:
        rng = np.random.default_rng(1)
        # cam3 has no intrinsics yet: its views are dropped, the other three still triangulate.
        h.send(_views(cams, truth, rng), 0, rng)
        assert h.spin_until(lambda: len(h.poses) == 1), h.node.problems
        assert h.poses[-1].num_views == 3 and h.node.drops["no_intrinsics"] == 1
        # An all-zero CameraInfo (an uncalibrated camera): warned, cam3 stays unused.
        h.info_pubs["cam3"].publish(CameraInfo(width=1920, height=1080))
        assert h.spin_until(lambda: h.node.drops["bad_camera_info"] == 1)
        assert "not calibrated" in h.node.problems["bad_camera_info"]
        # A valid CameraInfo makes it usable.
        info = CameraInfo(width=1920, height=1080, distortion_model="plumb_bob")
        info.k = cams[3].K.ravel().tolist()
        info.d = cams[3].dist.tolist()
        h.info_pubs["cam3"].publish(info)
        assert h.spin_until(lambda: "cam3" in h.node.intrinsics)
        h.send(_views(cams, truth, rng), 1, rng)
        assert h.spin_until(lambda: len(h.poses) == 2) and h.poses[-1].num_views == 4

        # Unknown frame on cam0's topic, NaN keypoints on cam1, COCO_18 on cam2.
        views = _views(cams, truth, rng)
        nan_body = views["cam1"].body.copy()
        nan_body[:, ::2, :2] = np.nan
        views["cam1"] = People(BODY_25, views["cam1"].image_size, nan_body, views["cam1"].scores)
        views["cam2"] = People(COCO_18, views["cam2"].image_size, np.ones((1, 18, 3), np.float32), [1.0])
        h.send(views, 2, rng, frame_ids={"cam0": "somewhere_else"})
        # The set goes out once cam0 has moved on (its frame 2 never arrived under its name).
        h.send(_views(cams, truth, rng), 3, rng)
        assert h.spin_until(lambda: len(h.poses) == 4), h.node.problems
        assert h.node.drops["unknown_frame"] == 1 and "somewhere_else" in h.node.problems["unknown_frame"]
        assert "layout COCO_18" in h.node.problems["view_skipped"]
        odd = msg_to_people3d(h.poses[2])
        assert h.poses[2].num_views == 2  # cam1 (NaN-riddled, still usable) and cam3
        assert np.isfinite(odd.body[odd.valid]).all() and np.isnan(odd.body[~odd.valid]).all()
        assert mpjpe_mm(odd.body.astype(float), truth)[0] < 15.0
        assert h.poses[3].num_views == 4 and len(msg_to_people3d(h.poses[3])) == 3

        # A set with a single usable view (image sizes that contradict the calibration) publishes
        # nothing.
        views = _views(cams, truth, rng)
        for name in ("cam1", "cam2", "cam3"):
            views[name] = People(BODY_25, (640, 480), views[name].body, views[name].scores)
        h.send(views, 4, rng)
        h.send(_views(cams, truth, rng), 5, rng)
        assert h.spin_until(lambda: len(h.poses) == 5), h.node.problems
        assert h.node.drops["too_few_views"] == 1 and "image size (640, 480)" in h.node.problems["view_skipped"]
        assert h.poses[-1].num_views == 4  # frame 5, the node kept running
    finally:
        h.close()


def test_hands_faces_binning_and_padding(ros_context, scene, tmp_path):
    """Whole-body 2D in, hands and faces in 3D out (messages, hand TF, markers); cam3's
    intrinsics from a 2x2-binned CameraInfo with its views at half size; cam1's views 8 px
    narrower than calibrated (codec padding): all four views used, warned once each."""
    cams, truth = scene
    h = Harness(ros_context, _rig_file(tmp_path, cams, without_intrinsics=("cam3",)),
                publish_hand_tf=True)
    try:
        rng = np.random.default_rng(2)
        parts = synthetic_parts(truth, BODY_25, rng)
        info = CameraInfo(width=1920, height=1080, distortion_model="plumb_bob", binning_x=2, binning_y=2)
        info.k = cams[3].K.ravel().tolist()
        info.d = cams[3].dist.tolist()
        h.info_pubs["cam3"].publish(info)
        assert h.spin_until(lambda: "cam3" in h.node.intrinsics)
        assert h.node.intrinsics["cam3"].image_size == (960, 540)

        def views():
            out, _ = synthetic_views(Rig(tuple(cams)), BODY_25, truth, rng, noise_px=1.0, drop=0.0,
                                     corrupt=False, parts=parts)
            out = {name: out[c.name] for name, c in zip(NAMES, cams)}
            half = out["cam3"]
            scaled = {k: getattr(half, k) * np.array([0.5, 0.5, 1.0], np.float32)
                      for k in ("body", "left_hand", "right_hand", "face")}
            out["cam3"] = People(BODY_25, (960, 540), scaled.pop("body"), half.scores, **scaled)
            out["cam1"].image_size = (1912, 1080)
            return out

        for frame in range(2):
            h.send(views(), frame, rng)
            assert h.spin_until(lambda: len(h.poses) == frame + 1), h.node.problems
        assert sum(h.node.drops.values()) == 0, h.node.problems
        msg = h.poses[-1]
        assert msg.num_views == 4
        people = msg_to_people3d(msg)
        assert set(people.parts()) == {"left_hand", "right_hand", "face"}
        rows, cols = match_people(people.body.astype(float), truth)
        for name in ("left_hand", "right_hand", "face"):
            part = getattr(people, name)
            err = np.linalg.norm(part.body[rows] - parts[name][cols], axis=-1)
            # Wrong binned intrinsics would get cam3 rejected (3 views) for nearly every joint.
            assert np.nanmean(err) < 0.015 and (part.views[part.valid] == 4).mean() > 0.5, name
        def this_set():
            return {t.child_frame_id: t for m in h.tf for t in m.transforms
                    if t.header.stamp == msg.header.stamp}

        assert h.spin_until(lambda: any(f.endswith("/left_hand/Wrist") for f in this_set()))
        tid = int(people.track_ids[0])
        frames = this_set()
        wrist = frames[f"body_{tid}/right_hand/Wrist"]
        assert wrist.header.frame_id == f"body_{tid}"
        root = frames[f"body_{tid}"].transform.translation
        local = wrist.transform.translation
        np.testing.assert_allclose([root.x + local.x, root.y + local.y, root.z + local.z],
                                   people.right_hand.body[0, 0], atol=1e-5)
        assert h.spin_until(lambda: len(h.markers) >= 2)
        namespaces = {m.ns for m in h.markers[-1].markers}
        assert {"left_hand_joints", "right_hand_limbs", "face_joints"} <= namespaces
    finally:
        h.close()


def test_unusable_configuration_raises(ros_context, tmp_path):
    with pytest.raises(ValueError, match="calibration_file"):
        TriangulationNode(context=ros_context)
    (tmp_path / "bad.yaml").write_text("cameras: 3\n")
    with pytest.raises(CalibrationError):
        TriangulationNode(context=ros_context,
                          parameter_overrides=[Parameter("calibration_file", value=str(tmp_path / "bad.yaml"))])


def test_quaternions_match_rotation_matrices():
    from scipy.spatial.transform import Rotation

    from openpose_ros.ros.tf_publish import quaternion_from_matrix

    rotations = list(Rotation.random(50, random_state=0).as_matrix())
    rotations += [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0]), np.eye(3)]
    for R in rotations:  # including the 180-degree turns where the trace is -1
        q = np.array(quaternion_from_matrix(R))
        assert q[3] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
        np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), R, atol=1e-9)


def test_pose3d_message_round_trip_keeps_missing_joints_missing():
    from openpose_ros.ros.convert3d import people3d_to_msg
    from openpose_ros.threed.result import People3D

    rng = np.random.default_rng(0)
    body = rng.normal(size=(2, BODY_25.num_parts, 3))
    body[0, 3] = np.nan
    views = np.where(np.isfinite(body[..., 0]), 3, 0)
    people = People3D(BODY_25, body, np.full(views.shape, 0.7), views, np.full(views.shape, 1.5),
                      track_ids=[4, 9])
    msg = people3d_to_msg(people, Header(frame_id="world"), num_views=5)
    assert msg.num_views == 5 and len(msg.people[0].body.x) == BODY_25.num_parts
    back = msg_to_people3d(msg)
    np.testing.assert_allclose(back.body[people.valid], body[people.valid], rtol=1e-6)
    assert np.isnan(back.body[0, 3]).all() and back.views[0, 3] == 0 and back.scores[0, 3] == 0
    assert np.isnan(back.reproj_error[0, 3]) and back.track_ids.tolist() == [4, 9]


def test_pose3d_message_round_trip_carries_hands_and_faces():
    from openpose_ros.layouts import FACE_70, HAND_21
    from openpose_ros.ros.convert3d import people3d_to_msg
    from openpose_ros.threed.result import People3D

    rng = np.random.default_rng(1)

    def group(layout):
        pts = rng.normal(size=(2, layout.num_parts, 3))
        pts[1, 0] = np.nan
        views = np.where(np.isfinite(pts[..., 0]), 2, 0)
        return People3D(layout, pts, np.full(views.shape, 0.6), views, np.ones(views.shape))

    body = group(BODY_25)
    people = People3D(BODY_25, body.body, body.scores, body.views, body.reproj_error,
                      track_ids=[1, 2], left_hand=group(HAND_21), face=group(FACE_70))
    msg = people3d_to_msg(people, Header(frame_id="world"), num_views=2)
    assert len(msg.people[0].left_hand.x) == 21 and len(msg.people[0].face.x) == 70
    assert len(msg.people[0].right_hand.x) == 0  # off: empty
    back = msg_to_people3d(msg)
    assert back.right_hand is None and set(back.parts()) == {"left_hand", "face"}
    for name in ("left_hand", "face"):
        want, got = getattr(people, name), getattr(back, name)
        np.testing.assert_allclose(got.body[want.valid], want.body[want.valid], rtol=1e-6)
        assert np.isnan(got.body[1, 0]).all() and got.views[1, 0] == 0
    assert back.take([1]).face.body.shape == (1, 70, 3)
    with pytest.raises(ValueError, match="left_hand"):
        People3D(BODY_25, body.body, body.scores, body.views, body.reproj_error,
                 left_hand=group(HAND_21).take([0]))


def test_markers_draw_valid_joints_and_limbs_only():
    from openpose_ros.ros.markers import SkeletonMarkers
    from openpose_ros.threed.result import People3D

    body = np.zeros((1, BODY_25.num_parts, 3))
    body[0, :, 0] = np.arange(BODY_25.num_parts)
    body[0, BODY_25.index("RElbow")] = np.nan
    valid = np.isfinite(body[..., 0])
    people = People3D(BODY_25, body, valid * 0.9, valid * 2, valid * 1.0, track_ids=[3])
    out = SkeletonMarkers().update(people, Header(frame_id="world")).markers
    joints, limbs, label = out
    assert (joints.ns, joints.id, joints.type) == ("joints", 3, Marker.SPHERE_LIST)
    assert len(joints.points) == len(joints.colors) == BODY_25.num_parts - 1
    pairs = [p for p in BODY_25.render_pairs if BODY_25.index("RElbow") not in p]
    assert len(limbs.points) == len(limbs.colors) == 2 * len(pairs)
    assert label.text == "body_3"
