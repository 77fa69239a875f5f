"""The HRI bridge over real rclpy and DDS: Pose2DArray (and Pose3DArray) in, REP-155 out.

The bridge runs in this process next to a helper node that publishes real messages (built by
``people_to_msg``/``people3d_to_msg``) and listens on the REP-155 topics; per-id publishers are
checked both in the bridge and in the DDS graph. Timeouts are short (0.3 s) to keep this quick.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from hri_msgs.msg import (FacialLandmarks, IdsList, NormalizedPointOfInterest2D,
                          NormalizedRegionOfInterest2D, Skeleton2D)
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from openpose_ros.hri.skeleton import SKELETON_JOINTS
from openpose_ros.layouts import BODY_25, COCO_18, MPI_15
from openpose_ros.msg import Pose2DArray, Pose3DArray
from openpose_ros.people import People
from openpose_ros.ros.convert import people_to_msg
from openpose_ros.ros.convert3d import people3d_to_msg
from openpose_ros.ros.hri_bridge import HriBridge
from openpose_ros.ros.people3d_output import body_transforms
from openpose_ros.ros.qos_watch import result_qos
from openpose_ros.ros.tf_publish import tf_qos
from openpose_ros.threed.result import People3D
from ros_utils import spin_until, wait_for_subscribers

W, H = 640, 480
CAM0, CAM1, POSES3D = "/hri_test/cam0/poses", "/hri_test/cam1/poses", "/hri_test/poses3d"


def person_body(layout, offset=0.0, score=0.8):
    """Joint j of ``layout`` at pixel (20 + 10 j + offset, 30 + 5 j), confidence ``score``."""
    j = np.arange(layout.num_parts, dtype=np.float32)
    return np.stack([20 + 10 * j + offset, 30 + 5 * j, np.full_like(j, score)], axis=1)


def pose_msg(tracks, layout=COCO_18, stamp_ns=1_000, frame="cam0_optical", faces=None):
    body = np.stack([person_body(layout, 7 * k) for k in range(len(tracks))]) if tracks else \
        np.zeros((0, layout.num_parts, 3), np.float32)
    people = People(layout, (W, H), body, np.ones(len(tracks)), face=faces,
                    track_ids=np.array(tracks, np.int32))
    return people_to_msg(people, Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                                        frame_id=frame))


class Graph:
    """The bridge, a helper node publishing inputs, and what arrived on the REP-155 topics."""

    def __init__(self, context, **params) -> None:
        defaults = dict(pose_topics=[CAM0, CAM1], id_timeout=0.3, camera_timeout=0.3,
                        warn_period=0.0, diagnostics_period=0.2)
        defaults.update(params)
        self.executor = SingleThreadedExecutor(context=context)
        self.bridge = HriBridge(context=context, parameter_overrides=[
            Parameter(k, value=v) for k, v in defaults.items()])
        self.helper = Node("hri_test_helper", context=context)
        qos = result_qos(depth=50)
        self.pubs = {t: self.helper.create_publisher(Pose2DArray, t, qos) for t in (CAM0, CAM1)}
        self.pub3d = self.helper.create_publisher(Pose3DArray, POSES3D, qos)
        self.got: dict[str, list] = {}
        self._stamps = 0
        self.listen(IdsList, "/humans/bodies/tracked")
        self.listen(IdsList, "/humans/faces/tracked")
        self.listen(DiagnosticArray, "/diagnostics")
        for node in (self.bridge, self.helper):
            self.executor.add_node(node)

    def listen(self, kind, topic: str, qos=None) -> list:
        got = self.got.setdefault(topic, [])
        self.helper.create_subscription(kind, topic, got.append, qos or result_qos(depth=200))
        return got

    def send(self, topic: str, msg) -> None:
        pub = self.pubs.get(topic, self.pub3d)
        wait_for_subscribers(self.executor, pub)
        pub.publish(msg)

    def tracked_after(self, topic: str, msg, kind="bodies") -> list[str]:
        """Send ``msg`` (restamped uniquely) and return the ``/humans/<kind>/tracked`` list the
        bridge published for it."""
        self._stamps += 1
        msg.header.stamp = Time(sec=1000 + self._stamps)
        got = self.got[f"/humans/{kind}/tracked"]
        mine = lambda: [m for m in got if m.header.stamp == msg.header.stamp]  # noqa: E731
        self.send(topic, msg)
        assert spin_until(self.executor, mine, 5.0)
        return list(mine()[0].ids)

    def publishers_on(self, topic: str) -> int:
        return self.helper.count_publishers(topic)

    def close(self) -> None:
        self.executor.shutdown()
        self.bridge.destroy_node()
        self.helper.destroy_node()


@pytest.fixture
def graph(ros_context):
    made = []

    def make(**params):
        made.append(Graph(ros_context, **params))
        return made[-1]

    yield make
    for g in made:
        g.close()


def test_hri_msgs_have_the_ros2_field_definitions():
    """The messages used (stand-in or installed) have the ROS 2 package's fields, in order, as
    listed in ../shared/docs/ros4hri.md; a stand-in that differed would not talk to a robot."""
    point = "hri_msgs/NormalizedPointOfInterest2D"
    expected = {
        NormalizedPointOfInterest2D: [("x", "float"), ("y", "float"), ("c", "float")],
        NormalizedRegionOfInterest2D: [("header", "std_msgs/Header")] + [
            (n, "float") for n in ("xmin", "ymin", "xmax", "ymax", "c")],
        IdsList: [("header", "std_msgs/Header"), ("ids", "sequence<string>")],
        Skeleton2D: [("header", "std_msgs/Header"), ("skeleton", f"{point}[18]")],
        FacialLandmarks: [("header", "std_msgs/Header"), ("landmarks", f"{point}[70]"),
                          ("height", "uint32"), ("width", "uint32")],
    }
    for kind, fields in expected.items():
        assert list(kind.get_fields_and_field_types().items()) == fields, kind.__name__
    assert (FacialLandmarks.RIGHT_PUPIL, FacialLandmarks.LEFT_PUPIL) == (68, 69)


def test_skeleton_constants_are_the_core_tables_order():
    for index, (name, _) in enumerate(SKELETON_JOINTS):
        assert getattr(Skeleton2D, name) == index, name


@pytest.mark.parametrize("layout", [COCO_18, BODY_25, MPI_15], ids=lambda lay: lay.name)
def test_pose_in_normalised_rep155_out_mapped_by_name(graph, layout):
    g = graph()
    skeletons = g.listen(Skeleton2D, "/humans/bodies/c0_7/skeleton2d")
    rois = g.listen(NormalizedRegionOfInterest2D, "/humans/bodies/c0_7/roi")
    assert g.tracked_after(CAM0, pose_msg([7], layout, stamp_ns=5_000_000_123)) == ["c0_7"]
    # the per-id publishers now exist; the next frame reaches their subscriptions
    assert spin_until(g.executor, lambda: g.publishers_on("/humans/bodies/c0_7/skeleton2d") == 1)
    sub_ready = lambda: g.bridge.body_pubs["c0_7"][0].get_subscription_count() >= 1  # noqa: E731
    assert spin_until(g.executor, sub_ready)
    g.send(CAM0, pose_msg([7], layout, stamp_ns=6_000_000_456))
    second = lambda got: [m for m in got if m.header.stamp.sec == 6]  # noqa: E731
    assert spin_until(g.executor, lambda: second(skeletons) and second(rois), 5.0)
    sk, roi = second(skeletons)[0], second(rois)[0]
    assert (sk.header.stamp.sec, sk.header.stamp.nanosec) == (6, 456)
    assert sk.header.frame_id == roi.header.frame_id == "cam0_optical"
    body = person_body(layout)
    for k, (name, ours) in enumerate(SKELETON_JOINTS):
        point = sk.skeleton[k]
        if layout.has(ours):
            j = layout.index(ours)
            assert (point.x, point.y, point.c) == pytest.approx(
                (body[j, 0] / W, body[j, 1] / H, 0.8), rel=1e-6), name
        else:
            assert (point.x, point.y, point.c) == (0.0, 0.0, 0.0), name
    if layout is COCO_18:  # the eye/ear pitfall: REP-155 LEFT_EYE=14 is COCO's joint 15
        left_eye = sk.skeleton[Skeleton2D.LEFT_EYE]
        assert left_eye.x == pytest.approx(body[COCO_18.index("LEye"), 0] / W)
        assert COCO_18.index("LEye") == 15 != Skeleton2D.LEFT_EYE
        assert sk.skeleton[Skeleton2D.RIGHT_EAR].x == pytest.approx(body[16, 0] / W)
    lo, hi = body[:, :2].min(axis=0), body[:, :2].max(axis=0)
    pad = 0.1 * (hi - lo)
    assert (roi.xmin, roi.ymin, roi.xmax, roi.ymax) == pytest.approx(
        (max((lo[0] - pad[0]) / W, 0), max((lo[1] - pad[1]) / H, 0),
         min((hi[0] + pad[0]) / W, 1), min((hi[1] + pad[1]) / H, 1)), rel=1e-5)
    assert roi.c == pytest.approx(0.8)
    assert all(0 <= v <= 1 for p in sk.skeleton for v in (p.x, p.y, p.c))


def test_ids_appear_and_leave_tracked_and_their_publishers_go(graph):
    g = graph()
    assert g.tracked_after(CAM0, pose_msg([1, 2])) == ["c0_1", "c0_2"]
    # the same track numbers on another camera are other people
    assert sorted(g.tracked_after(CAM1, pose_msg([1], frame="cam1"))) == ["c0_1", "c0_2", "c1_1"]
    assert g.tracked_after(CAM0, pose_msg([2, -1])) == ["c0_2", "c1_1"]
    assert g.bridge.untracked_people == 1
    assert set(g.bridge.body_pubs) == {"c0_1", "c0_2", "c1_1"}  # c0_1 lingers for id_timeout
    assert spin_until(g.executor, lambda: g.publishers_on("/humans/bodies/c1_1/roi") == 1)
    # cameras fall silent: tracked empties, then the per-id publishers are destroyed
    got = g.got["/humans/bodies/tracked"]
    assert spin_until(g.executor, lambda: list(got[-1].ids) == [], 5.0)
    assert spin_until(g.executor, lambda: not g.bridge.body_pubs, 5.0)
    assert spin_until(g.executor, lambda: g.publishers_on("/humans/bodies/c1_1/roi") == 0
                      and g.publishers_on("/humans/bodies/c0_2/skeleton2d") == 0, 5.0)
    assert g.tracked_after(CAM0, pose_msg([])) == []  # published also when empty


def test_per_id_publishers_stay_bounded_while_many_ids_come_and_go(graph):
    g = graph(max_ids=6, id_timeout=0.2, camera_timeout=5.0)
    held = []
    for k in range(40):  # a new person every frame, each staying 3 frames
        g.tracked_after(CAM0, pose_msg([t for t in range(max(0, k - 2), k + 1)], stamp_ns=k + 1))
        held.append(len(g.bridge.body_pubs))
    assert max(held) <= 6
    assert set(g.bridge.body_pubs) >= {"c0_37", "c0_38", "c0_39"}
    ours = [name for name, _ in g.helper.get_publisher_names_and_types_by_node(
        g.bridge.get_name(), g.bridge.get_namespace()) if name.startswith("/humans/bodies/c0_")]
    assert spin_until(g.executor, lambda: len([
        n for n, _ in g.helper.get_publisher_names_and_types_by_node(
            g.bridge.get_name(), g.bridge.get_namespace())
        if n.startswith("/humans/bodies/c0_")]) <= 2 * 6, 5.0), ours
    assert spin_until(g.executor, lambda: not g.bridge.body_pubs, 5.0)


def test_faces_when_present(graph):
    g = graph()
    faces = np.zeros((2, 70, 3), np.float32)
    faces[0, :, 0] = 300 + np.arange(70)
    faces[0, :, 1] = 100 + np.arange(70) / 2
    faces[0, :, 2] = 0.9
    faces[1, :3] = [[10, 10, 0.9]] * 3  # too few landmarks: no face
    landmarks = g.listen(FacialLandmarks, "/humans/faces/c0_4/landmarks")
    froi = g.listen(NormalizedRegionOfInterest2D, "/humans/faces/c0_4/roi")
    msg = pose_msg([4, 5], faces=faces)
    assert g.tracked_after(CAM0, msg, "faces") == ["c0_4"]
    assert sorted(g.got["/humans/bodies/tracked"][-1].ids) == ["c0_4", "c0_5"]
    assert spin_until(g.executor, lambda: g.bridge.face_pubs["c0_4"][1].get_subscription_count())
    g.send(CAM0, msg)
    assert spin_until(g.executor, lambda: landmarks and froi, 5.0)
    lm = landmarks[-1]
    assert (lm.width, lm.height) == (W, H)
    assert lm.landmarks[68].x == pytest.approx(368 / W)  # RIGHT_PUPIL: FACE_70 "RPupil"
    assert lm.landmarks[69].y == pytest.approx((100 + 69 / 2) / H)
    assert (froi[-1].xmin, froi[-1].xmax) == pytest.approx((300 / W, 369 / W))
    # faces off in the pose node: no faces tracked
    assert g.tracked_after(CAM0, pose_msg([4]), "faces") == []


def test_bad_input_is_counted_and_never_stops_the_bridge(graph):
    g = graph()
    unknown = pose_msg([1])
    unknown.layout = 9
    no_size = pose_msg([1])
    no_size.image_width = 0
    short = pose_msg([1])
    short.people[0].body.x = short.people[0].body.x[:3]
    nan = pose_msg([1, 2])
    xs = np.array(nan.people[0].body.x)
    xs[:4] = np.nan  # scores stay 0.8: NaN keypoints
    nan.people[0].body.x = xs.tolist()
    all_nan = nan.people[1].body
    all_nan.x = [math.nan] * len(all_nan.x)
    for msg in (unknown, no_size, short):
        g.send(CAM0, msg)
    assert spin_until(g.executor, lambda: sum(g.bridge.drops.values()) == 3, 5.0)
    assert g.tracked_after(CAM0, nan) == ["c0_1"]  # person 2 has no valid joint
    assert g.bridge.drops == {"unknown_layout": 1, "empty_image_size": 1, "bad_message": 1,
                              "nan_keypoints": 4 + 18, "no_valid_joints": 1}
    assert "lengths differ" in g.bridge.problems["bad_message"]
    # and it still works, with the diagnostics reporting the drops
    assert g.tracked_after(CAM0, pose_msg([3])) == ["c0_3"]
    diag = g.got["/diagnostics"]
    assert spin_until(g.executor, lambda: any(
        kv.key == "dropped_unknown_layout" and kv.value == "1"
        for d in diag for s in d.status for kv in s.values), 5.0)


def _standing_3d(track: int) -> People3D:
    """A BODY_25 person standing up the parent's -y axis (a camera optical frame), facing the
    camera (-z), 3 m in front of it."""
    body = np.full((1, 25, 3), np.nan, np.float32)
    at = {"MidHip": [0, 0, 3], "Neck": [0, -0.5, 3], "RHip": [-0.1, 0, 3], "LHip": [0.1, 0, 3],
          "RShoulder": [-0.2, -0.45, 3], "LShoulder": [0.2, -0.45, 3]}
    for name, p in at.items():
        body[0, BODY_25.index(name)] = p
    valid = np.isfinite(body[..., 0])
    return People3D(BODY_25, body, valid * 0.9, valid.astype(np.uint8) * 2,
                    np.where(valid, 1.0, np.nan), track_ids=[track])


def test_body_transforms_rep155_axes():
    header = Header(frame_id="cam_optical")
    (t,) = body_transforms(_standing_3d(5), header, joint_tf=False, orientation="rep155",
                           body_id=lambda k: f"c0_{k}")
    assert t.child_frame_id == "body_c0_5" and t.header.frame_id == "cam_optical"
    q = t.transform.rotation
    # x forward (towards the camera: -z), z up (-y), y the person's left (+x seen from the camera)
    R = _matrix(q.x, q.y, q.z, q.w)
    np.testing.assert_allclose(R, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-6)
    plain = body_transforms(_standing_3d(5), header)
    assert plain[0].child_frame_id == "body_5" and plain[0].transform.rotation.w == 1.0
    with pytest.raises(ValueError, match="orientation"):
        body_transforms(_standing_3d(5), header, orientation="up")


def _matrix(x, y, z, w) -> np.ndarray:
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def test_3d_people_get_tf_frames_named_like_their_body_ids(graph):
    g = graph(pose3d_topic=POSES3D, pose3d_id_prefix="c0", camera_timeout=5.0)
    tf = g.listen(TFMessage, "/tf", tf_qos())
    assert g.tracked_after(CAM0, pose_msg([5], frame="cam_optical")) == ["c0_5"]
    g.send(POSES3D, people3d_to_msg(_standing_3d(5), Header(frame_id="cam_optical"), 1))
    assert spin_until(g.executor, lambda: tf, 5.0)
    (t,) = tf[-1].transforms
    assert t.child_frame_id == "body_c0_5"  # the body /humans/bodies/c0_5 is
    assert (t.transform.translation.x, t.transform.translation.z) == pytest.approx((0, 3))
    assert g.got["/humans/bodies/tracked"][-1].ids == ["c0_5"]


def test_3d_people_with_ids_of_their_own_are_bodies_of_their_own(graph):
    g = graph(pose3d_topic=POSES3D, camera_timeout=5.0)  # default prefix w: triangulation ids
    tf = g.listen(TFMessage, "/tf", tf_qos())
    assert g.tracked_after(POSES3D, people3d_to_msg(_standing_3d(2), Header(frame_id="world"), 2)) \
        == ["w_2"]
    assert spin_until(g.executor, lambda: tf, 5.0)
    assert tf[-1].transforms[0].child_frame_id == "body_w_2"
    assert g.bridge.body_pubs["w_2"] == ()  # TF only: no skeleton2d for a 3D-only body


def test_repeated_bad_input_warns_once_per_warn_period(graph, capfd):
    g = graph(warn_period=60.0)
    unknown = pose_msg([1])
    unknown.layout = 9
    for _ in range(4):
        g.send(CAM0, unknown)
    assert spin_until(g.executor, lambda: g.bridge.drops["unknown_layout"] == 4, 5.0)
    g.send(CAM1, unknown)  # another input: its own warning
    assert spin_until(g.executor, lambda: g.bridge.drops["unknown_layout"] == 5, 5.0)
    err = capfd.readouterr().err
    assert err.count(f"{CAM0}: layout 9 is not one the bridge knows") == 1, err
    assert err.count(f"{CAM1}: layout 9 is not one the bridge knows") == 1, err
