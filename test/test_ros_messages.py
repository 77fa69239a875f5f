"""Every message type of the package across real DDS between two real rclpy nodes."""

import math

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Header

from openpose_ros.layouts import BODY_25, COCO_18
from openpose_ros.msg import (Keypoints2D, Keypoints3D, Person2D, Person3D, Pose2DArray,
                              Pose3DArray)
from openpose_ros.people import People, empty_keypoints
from openpose_ros.ros.convert import MessageFormatError, msg_to_people, people_to_msg
from openpose_ros.ros.images import (array_to_compressed_image, array_to_image,
                                     compressed_to_bgr8, image_to_array)
from ros_utils import spin_until, wait_for_subscribers

NAN = float("nan")


@pytest.fixture
def pair(ros_context):
    """(executor, sender node, receiver node) on the test domain."""
    executor = SingleThreadedExecutor(context=ros_context)
    sender = Node("sender", context=ros_context)
    receiver = Node("receiver", context=ros_context)
    executor.add_node(sender)
    executor.add_node(receiver)
    yield executor, sender, receiver
    executor.shutdown()
    sender.destroy_node()
    receiver.destroy_node()


def send_and_receive(pair, msg_type, msg, topic="roundtrip"):
    executor, sender, receiver = pair
    got = []
    receiver.create_subscription(msg_type, topic, got.append, QoSProfile(depth=10))
    pub = sender.create_publisher(msg_type, topic, QoSProfile(depth=10))
    wait_for_subscribers(executor, pub)
    pub.publish(msg)
    assert spin_until(executor, lambda: got), f"no {msg_type.__name__} received"
    return got[0]


def _same_floats(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=0, rel=1e-7)


def _header(sec=1700000000, nsec=123456789, frame="camera_optical"):
    h = Header(frame_id=frame)
    h.stamp.sec, h.stamp.nanosec = sec, nsec
    return h


def test_keypoint_types_with_nan_and_empty(pair):
    k2 = Keypoints2D(x=[1.5, NAN], y=[2.5, NAN], score=[0.9, 0.0])
    got = send_and_receive(pair, Keypoints2D, k2, "k2")
    _same_floats(got.x, k2.x); _same_floats(got.y, k2.y); _same_floats(got.score, k2.score)
    empty = send_and_receive(pair, Keypoints2D, Keypoints2D(), "k2_empty")
    assert len(empty.x) == len(empty.y) == len(empty.score) == 0
    k3 = Keypoints3D(x=[0.1, NAN], y=[0.2, NAN], z=[3.0, NAN], score=[0.8, 0.0], views=[4, 0],
                     reprojection_error=[1.25, NAN])
    got3 = send_and_receive(pair, Keypoints3D, k3, "k3")
    for f in ("x", "y", "z", "score", "reprojection_error"):
        _same_floats(getattr(got3, f), getattr(k3, f))
    assert list(got3.views) == [4, 0]


def test_person_types(pair):
    p2 = Person2D(track_id=-1, score=0.5, body=Keypoints2D(x=[NAN], y=[NAN], score=[0.0]))
    got = send_and_receive(pair, Person2D, p2, "p2")
    assert got.track_id == -1 and got.score == 0.5 and math.isnan(got.body.x[0])
    assert len(got.left_hand.x) == len(got.face.x) == 0
    p3 = Person3D(track_id=7, score=0.25, body=Keypoints3D(x=[1.0], y=[2.0], z=[NAN], score=[0.0],
                                                          views=[0], reprojection_error=[NAN]))
    got3 = send_and_receive(pair, Person3D, p3, "p3")
    assert got3.track_id == 7 and math.isnan(got3.body.z[0]) and list(got3.body.views) == [0]


def test_pose2d_array_from_people_survives_dds(pair):
    rng = np.random.default_rng(0)
    body = rng.uniform(0, 600, (3, 25, 3)).astype(np.float32)
    body[..., 2] = rng.uniform(0.1, 1.0, (3, 25))
    body[1, 4] = (np.nan, np.nan, 0.0)  # a missing wrist keeps its slot
    hands = rng.uniform(0, 600, (3, 21, 3)).astype(np.float32)
    people = People(BODY_25, (640, 480), body, [0.9, 0.5, 0.1], left_hand=hands,
                    right_hand=hands[::-1].copy(), face=empty_keypoints(3, 70),
                    track_ids=[4, -1, 9])
    msg = people_to_msg(people, _header())
    got = send_and_receive(pair, Pose2DArray, msg, "pose2d")
    assert got.header.stamp.sec == 1700000000 and got.header.stamp.nanosec == 123456789
    assert got.header.frame_id == "camera_optical"
    assert got.layout == Pose2DArray.LAYOUT_BODY_25 and (got.image_width, got.image_height) == (640, 480)
    back = msg_to_people(got)
    np.testing.assert_array_equal(back.body, people.body)
    np.testing.assert_array_equal(back.left_hand, people.left_hand)
    np.testing.assert_array_equal(back.right_hand, people.right_hand)
    np.testing.assert_array_equal(back.face, people.face)  # all-missing face: NaN, NaN, 0
    np.testing.assert_array_equal(back.track_ids, [4, -1, 9])
    np.testing.assert_allclose(back.scores, [0.9, 0.5, 0.1])


def test_empty_pose_arrays_survive_dds(pair):
    msg = people_to_msg(People.empty(COCO_18, (1920, 1080)), _header(frame="cam1"))
    got = send_and_receive(pair, Pose2DArray, msg, "pose2d_empty")
    back = msg_to_people(got)
    assert len(back) == 0 and back.layout is COCO_18 and back.image_size == (1920, 1080)
    p3 = Pose3DArray(header=_header(frame="world"), layout=Pose3DArray.LAYOUT_MPI_15, num_views=3)
    got3 = send_and_receive(pair, Pose3DArray, p3, "pose3d_empty")
    assert got3.header.frame_id == "world" and got3.num_views == 3 and len(got3.people) == 0
    assert got3.layout == 2


def test_pose3d_array_survives_dds(pair):
    person = Person3D(track_id=2, score=0.7, body=Keypoints3D(
        x=[0.5] * 25, y=[NAN] + [1.0] * 24, z=[2.0] * 25, score=[0.0] + [0.8] * 24,
        views=[0] + [3] * 24, reprojection_error=[NAN] + [2.5] * 24))
    msg = Pose3DArray(header=_header(frame="world"), layout=0, num_views=4, people=[person])
    got = send_and_receive(pair, Pose3DArray, msg, "pose3d")
    body = got.people[0].body
    assert math.isnan(body.y[0]) and body.views[0] == 0 and body.views[1] == 3
    _same_floats(body.reprojection_error, person.body.reprojection_error)


def test_images_survive_dds_and_convert(pair):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    got = send_and_receive(pair, type(array_to_image(image, "bgr8")),
                           array_to_image(image, "rgb8", _header()), "image")
    assert got.encoding == "rgb8" and got.header.frame_id == "camera_optical"
    np.testing.assert_array_equal(image_to_array(got), image)
    comp = array_to_compressed_image(image, "png", _header())
    got_c = send_and_receive(pair, type(comp), comp, "image/compressed")
    np.testing.assert_array_equal(compressed_to_bgr8(got_c), image)


def test_malformed_pose_messages_raise_format_error():
    msg = Pose2DArray(layout=9, image_width=10, image_height=10)
    with pytest.raises(MessageFormatError, match="unknown body layout id 9"):
        msg_to_people(msg)
    bad = Pose2DArray(layout=0, image_width=10, image_height=10,
                      people=[Person2D(body=Keypoints2D(x=[1.0] * 18, y=[1.0] * 18, score=[1.0] * 18))])
    with pytest.raises(MessageFormatError, match="person 0 body: 18 joints, expected one of \\(25,\\)"):
        msg_to_people(bad)
    ragged = Pose2DArray(layout=1, image_width=10, image_height=10,
                         people=[Person2D(body=Keypoints2D(x=[1.0] * 18, y=[1.0] * 17, score=[1.0] * 18))])
    with pytest.raises(MessageFormatError, match="lengths differ"):
        msg_to_people(ragged)
    with pytest.raises(MessageFormatError, match="image size 0x10 is empty"):
        msg_to_people(Pose2DArray(layout=0, image_width=0, image_height=10))


def test_16_bit_png_decodes_like_a_16_bit_raw_image():
    """A 16-bit PNG (OpenCV order, BGR) is scaled to 8 bits by the codec's one rule."""
    bgr16 = np.array([[[65535, 129, 43794], [0, 25700, 128]]], np.uint16)
    expected = [[[255, 1, 170], [0, 100, 0]]]  # round(v * 255 / 65535)
    assert compressed_to_bgr8(array_to_compressed_image(bgr16, "png")).tolist() == expected
    mono = compressed_to_bgr8(array_to_compressed_image(bgr16[..., 2], "png"))
    assert mono.tolist() == [[[170] * 3, [0] * 3]]
