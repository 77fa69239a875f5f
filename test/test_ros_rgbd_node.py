"""The RGB-D node over real rclpy and DDS, in one process.

A test node publishes the colour CameraInfo, one ``Pose2DArray`` per frame (two hand-made people,
2D track ids 5 and 9, exact projections through a distorted lens) and the depth image rendered
for the same scene, as 16UC1, 32FC1 or compressedDepth (16UC1 and 32FC1 PNG), and listens to
``poses3d``, ``/tf`` and the markers. Bad input (sizes that disagree, all-invalid depth, an
unknown encoding, NaN keypoints, a zero CameraInfo, stamps that never pair) must give counted
drops, no wrong output, the other people still published and a node that keeps working.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from openpose_ros.depth_codec import metres_to_compressed_depth  # noqa: E402
from openpose_ros.layouts import BODY_25  # noqa: E402
from openpose_ros.msg import Pose2DArray, Pose3DArray  # noqa: E402
from openpose_ros.people import People  # noqa: E402
from openpose_ros.ros.convert import people_to_msg  # noqa: E402
from openpose_ros.ros.convert3d import msg_to_people3d  # noqa: E402
from openpose_ros.ros.images import array_to_image  # noqa: E402
from openpose_ros.ros.tf_publish import tf_qos  # noqa: E402
from openpose_ros.ros.rgbd_node import RgbdNode  # noqa: E402
from rgbd_scene import SIZE, camera, exact_people, person, scene  # noqa: E402
from ros_utils import spin_until, wait_for_subscribers  # noqa: E402

FRAME = "color_optical"
T0 = 1_700_000_000 * 1_000_000_000
PERIOD = 33_000_000


@pytest.fixture(scope="module")
def world():
    cam = camera("rational_polynomial")
    people = np.stack([person((-0.45, 0.0, 0.0)), person((0.5, 0.4, 0.0))])
    z, _ = scene(cam, people, wall_y=1.6)
    depth = np.where(np.isfinite(z), z, np.nan).astype(np.float32)
    truth = cam.to_camera(people)
    kp = exact_people(cam, people)
    return cam, depth, truth, People(BODY_25, SIZE, kp.body, kp.scores, track_ids=[5, 9])


def _info(cam, *, zero=False) -> CameraInfo:
    msg = CameraInfo(header=Header(frame_id=FRAME), width=SIZE[0], height=SIZE[1])
    msg.distortion_model = cam.distortion_model
    msg.k = [0.0] * 9 if zero else [float(v) for v in cam.K.ravel()]
    msg.d = [float(v) for v in cam.dist]
    return msg


def _header(frame: int, offset_ns: int = 0) -> Header:
    h = Header(frame_id=FRAME)
    h.stamp.sec, h.stamp.nanosec = divmod(T0 + frame * PERIOD + offset_ns, 1_000_000_000)
    return h


def _depth_msg(depth: np.ndarray, kind: str, header: Header):
    if kind == "16UC1":
        mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)
        return array_to_image(mm, "16UC1", header)
    if kind == "32FC1":
        return array_to_image(depth.astype(np.float32), "32FC1", header)
    encoding = kind.split(":")[1]
    data, fmt = metres_to_compressed_depth(depth, encoding)
    msg = CompressedImage(header=header, format=fmt)
    msg.data = data
    return msg


class Harness:
    """Test publishers and subscribers around one RgbdNode."""

    def __init__(self, context, compressed: bool = False, **params):
        overrides = [Parameter("poses_topic", value="/cam/poses"),
                     Parameter("depth_topic", value="/cam/depth" + ("/compressedDepth" if compressed else "")),
                     Parameter("camera_info_topic", value="/cam/camera_info"),
                     Parameter("reliability", value="reliable"), Parameter("warn_period", value=0.0)]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.node = RgbdNode(context=context, parameter_overrides=overrides)
        self.test = Node("rgbd_test", context=context)
        self.pose_pub = self.test.create_publisher(Pose2DArray, "/cam/poses", 10)
        self.depth_pub = self.test.create_publisher(
            CompressedImage if compressed else Image,
            "/cam/depth" + ("/compressedDepth" if compressed else ""), 10)
        self.info_pub = self.test.create_publisher(CameraInfo, "/cam/camera_info", 10)
        self.poses, self.tf, self.markers = [], [], []
        self.test.create_subscription(Pose3DArray, "/poses3d", self.poses.append, 10)
        self.test.create_subscription(TFMessage, "/tf", self.tf.append, tf_qos())
        self.test.create_subscription(MarkerArray, "/poses3d/markers", self.markers.append, 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.test)
        for pub in (self.pose_pub, self.depth_pub, self.info_pub):
            wait_for_subscribers(self.executor, pub)

    def info(self, cam, *, zero=False):
        self.info_pub.publish(_info(cam, zero=zero))

    def send(self, people: People, depth_msg, frame: int, *, pose_offset_ns: int = 0):
        header = _header(frame)
        depth_msg.header = header
        self.depth_pub.publish(depth_msg)
        self.pose_pub.publish(people_to_msg(people, _header(frame, pose_offset_ns)))

    def spin_until(self, done, timeout=10.0):
        return spin_until(self.executor, done, timeout)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.test.destroy_node()


@pytest.mark.parametrize("kinds", [("16UC1",), ("32FC1",),
                                   ("compressed:16UC1", "compressed:32FC1")],
                         ids=["16UC1", "32FC1", "compressedDepth"])
def test_end_to_end_poses_tf_and_markers(ros_context, world, kinds):
    cam, depth, truth, people = world
    h = Harness(ros_context, compressed=kinds[0].startswith("compressed"))
    try:
        h.info(cam)
        assert h.spin_until(lambda: h.node._color is not None)
        for frame, kind in enumerate(kinds):
            h.send(people, _depth_msg(depth, kind, Header()), frame)
            assert h.spin_until(lambda: len(h.poses) == frame + 1), (kind, dict(h.node.drops))
            msg = h.poses[-1]
            assert msg.header.frame_id == FRAME and msg.num_views == 1
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == divmod(T0 + frame * PERIOD, 10**9)
            got = msg_to_people3d(msg)
            assert list(got.track_ids) == [5, 9]  # the 2D ids
            err = np.linalg.norm(got.body - truth, axis=-1)
            assert np.isfinite(err).sum() >= 30 and float(np.nanmean(err)) < 0.04, (kind, np.round(err, 3))
        assert h.spin_until(lambda: any(t.child_frame_id == "body_9/Neck"
                                        for m in h.tf for t in m.transforms))
        frames = {t.child_frame_id: t for m in h.tf for t in m.transforms}
        root = frames["body_5"]
        assert root.header.frame_id == FRAME
        mid = truth[0, BODY_25.index("MidHip")]
        np.testing.assert_allclose([root.transform.translation.x, root.transform.translation.y,
                                    root.transform.translation.z], mid, atol=0.05)
        assert h.spin_until(lambda: h.markers)
        assert {m.id for m in h.markers[-1].markers} == {5, 9}
        assert not h.node.drops
    finally:
        h.close()


def test_bad_input_is_counted_and_the_node_keeps_working(ros_context, world):
    cam, depth, truth, people = world
    h = Harness(ros_context)
    good = lambda: _depth_msg(depth, "16UC1", Header())  # noqa: E731
    try:
        # before any CameraInfo, and with an all-zero one: frames are dropped, nothing published
        h.send(people, good(), 0)
        assert h.spin_until(lambda: h.node.drops["no_camera_info"] == 1)
        h.info(cam, zero=True)
        assert h.spin_until(lambda: h.node.drops["bad_camera_info"] >= 1)
        h.send(people, good(), 1)
        assert h.spin_until(lambda: h.node.drops["no_camera_info"] == 2)
        h.info(cam)
        assert h.spin_until(lambda: h.node._color is not None)
        small = array_to_image(np.full((120, 160), 2000, np.uint16), "16UC1")
        h.send(people, small, 2)
        assert h.spin_until(lambda: h.node.drops["size_mismatch"] == 1)
        h.send(people, array_to_image(np.full(SIZE[::-1], np.nan, np.float32), "32FC1"), 3)
        assert h.spin_until(lambda: h.node.drops["no_valid_depth"] == 1)
        rgb = array_to_image(np.zeros(SIZE[::-1] + (3,), np.uint8), "rgb8")
        h.send(people, rgb, 4)
        assert h.spin_until(lambda: h.node.drops["bad_depth"] == 1)
        assert "unsupported depth encoding 'rgb8'" in h.node.problems["bad_depth"]
        # poses 0.4 s after every depth image: never within slop
        for frame in range(5, 8):
            h.send(people, good(), frame, pose_offset_ns=400_000_000)
        assert h.spin_until(lambda: h.node.drops["unpaired"] >= 3)
        assert "check the clocks" in h.node.problems["unpaired"]
        assert not h.poses
        # one person's keypoints all NaN: the other is still published
        nan_body = people.body.copy()
        nan_body[1, :, :2], nan_body[1, :, 2] = np.nan, 0.0
        half = People(BODY_25, SIZE, nan_body, people.scores, track_ids=people.track_ids)
        h.send(half, good(), 20)
        assert h.spin_until(lambda: len(h.poses) == 1), dict(h.node.drops)
        got = msg_to_people3d(h.poses[-1])
        assert list(got.track_ids) == [5] and h.node.drops["person_no_depth"] == 1
        assert float(np.nanmean(np.linalg.norm(got.body[0] - truth[0], axis=-1))) < 0.04
        h.send(people, good(), 21)
        assert h.spin_until(lambda: len(h.poses) == 2)
        assert list(msg_to_people3d(h.poses[-1]).track_ids) == [5, 9]
        # stamps 6.6 s back (a bag loop): pairing starts afresh instead of dropping as stale
        h.send(people, good(), -180)
        assert h.spin_until(lambda: len(h.poses) == 3), dict(h.node.drops)
        # a depth image whose poses never come after pairs formed: only a partner was lost
        unpaired = h.node.drops["unpaired"]
        lone = good()
        lone.header = _header(-179)
        h.depth_pub.publish(lone)
        h.spin_until(lambda: False, 0.2)
        h.pose_pub.publish(people_to_msg(people, _header(-178)))
        h.spin_until(lambda: False, 0.2)
        depth = good()
        depth.header = _header(-178)
        h.depth_pub.publish(depth)
        assert h.spin_until(lambda: len(h.poses) == 4 and h.node.drops["unpaired"] > unpaired), \
            dict(h.node.drops)
        assert "a partner was lost" in h.node.problems["unpaired"]
    finally:
        h.close()
