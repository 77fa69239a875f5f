"""The video source over real DDS: free-running, camera info, and lock-step with the pose node.

Inputs are folders of three to six tiny (32x24) images, so no model or video decoding is
needed; the pose node runs the stand-in estimator of ``test_ros_pose_node``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image

from openpose_ros.msg import Pose2DArray
from openpose_ros.ros.pose_node import PoseNode
from openpose_ros.ros.video_source import (FrameReader, VideoSource, VideoSourceError,
                                           load_camera_info)
from ros_utils import spin_until
from test_ros_pose_node import FakeFactory


def _folder(tmp_path, count):
    for i in range(count):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), np.full((24, 32, 3), 20 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_reader_reads_folders_in_name_order_and_rejects_bad_paths(tmp_path):
    reader = FrameReader(_folder(tmp_path, 3))
    values = []
    while (frame := reader.read()) is not None:
        values.append(int(frame[0, 0, 0]))
    assert values == [0, 20, 40]
    reader.rewind()
    assert int(reader.read()[0, 0, 0]) == 0
    with pytest.raises(VideoSourceError, match="no such video"):
        FrameReader(tmp_path / "missing.avi")
    (tmp_path / "broken.avi").write_bytes(b"not a video")
    with pytest.raises(VideoSourceError, match="cannot open"):
        FrameReader(tmp_path / "broken.avi")


def test_camera_info_from_a_calibration_file(tmp_path):
    calib = tmp_path / "cam.yaml"
    calib.write_text(
        "image_width: 32\nimage_height: 24\ncamera_name: cam\n"
        "camera_matrix: {rows: 3, cols: 3, data: [30, 0, 16, 0, 30, 12, 0, 0, 1]}\n"
        "distortion_model: plumb_bob\n"
        "distortion_coefficients: {rows: 1, cols: 5, data: [0.1, 0, 0, 0, 0]}\n")
    info = load_camera_info(f"file://{calib}")
    assert list(info.k) == [30, 0, 16, 0, 30, 12, 0, 0, 1] and info.d[0] == 0.1
    assert list(info.p)[:4] == [30, 0, 16, 0]
    with pytest.raises(VideoSourceError, match="camera_info_url"):
        load_camera_info(str(tmp_path / "absent.yaml"))


def test_free_running_source_publishes_every_frame_with_camera_info(ros_context, tmp_path):
    executor = SingleThreadedExecutor(context=ros_context)
    listener = Node("listener", context=ros_context)
    images, infos = [], []
    listener.create_subscription(Image, "/vid/image_raw", images.append, QoSProfile(depth=10))
    listener.create_subscription(CameraInfo, "/vid/camera_info", infos.append,
                                 QoSProfile(depth=10))
    executor.add_node(listener)
    spin_until(executor, lambda: False, timeout=0.3)  # let the listener be discovered first
    source = VideoSource(context=ros_context, namespace="vid", parameter_overrides=[
        Parameter("path", value=str(_folder(tmp_path, 3))), Parameter("rate", value=5.0),
        Parameter("frame_id", value="vid_optical")])
    executor.add_node(source)
    try:
        spin_until(executor, lambda: listener.count_publishers("/vid/image_raw") > 0)
        assert spin_until(executor, lambda: source.done, 5.0)
        assert spin_until(executor, lambda: len(images) == len(infos) == 3, 3.0)
        assert [int(m.data[0]) for m in images] == [0, 20, 40]
        assert images[0].header.frame_id == "vid_optical" and images[0].encoding == "bgr8"
        assert infos[1].header == images[1].header and (infos[1].width, infos[1].height) == (32, 24)
        assert source.rate == 5.0
    finally:
        executor.shutdown()
        source.destroy_node()
        listener.destroy_node()


def test_lockstep_source_gets_every_frame_answered_by_a_slow_node(ros_context, tmp_path):
    """The network takes 0.15 s per frame and the source asks for 100 fps: in lock-step no
    frame is superseded, and each answer carries its frame's stamp."""
    executor = SingleThreadedExecutor(context=ros_context)
    factory = FakeFactory(delay=0.15)
    pose = PoseNode(context=ros_context, pipeline_factory=factory, parameter_overrides=[
        Parameter("image_topics", value=["/lock/image_raw"]),
        Parameter("reliability", value="reliable")])
    results = []
    listener = Node("listener", context=ros_context)
    listener.create_subscription(Pose2DArray, "/lock/poses", results.append, QoSProfile(depth=10))
    source = VideoSource(context=ros_context, namespace="lock", parameter_overrides=[
        Parameter("path", value=str(_folder(tmp_path, 6))), Parameter("rate", value=100.0),
        Parameter("wait_for_results", value="/lock/poses"), Parameter("max_frames", value=5)])
    for node in (pose, listener, source):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: source.done, 10.0)
        assert spin_until(executor, lambda: len(results) == 5, 2.0)
        assert source.published == source.answered == 5 and source.unanswered == 0
        stats = pose.cameras[0].stats
        assert stats.drops["superseded"] == 0 and stats.published == 5
        assert sorted(source.stamps.values()) == list(range(5))
        assert [source.stamps[(r.header.stamp.sec, r.header.stamp.nanosec)] for r in results] \
            == list(range(5))
    finally:
        executor.shutdown()
        pose.stop()
        for node in (pose, listener, source):
            node.destroy_node()


def test_source_stands_in_for_a_bayer_camera(ros_context, tmp_path):
    """``encoding:=bayer_rggb8``: the published mosaic holds R, G / G, B of the file's pixels."""
    cv2.imwrite(str(tmp_path / "frame.png"), np.full((24, 32, 3), (10, 20, 30), np.uint8))  # BGR
    with pytest.raises(VideoSourceError, match="parameter encoding: writing nv21"):
        VideoSource(context=ros_context, parameter_overrides=[
            Parameter("path", value=str(tmp_path)), Parameter("encoding", value="nv21")])
    executor = SingleThreadedExecutor(context=ros_context)
    listener = Node("listener", context=ros_context)
    images = []
    listener.create_subscription(Image, "/flir/image_raw", images.append, QoSProfile(depth=10))
    executor.add_node(listener)
    spin_until(executor, lambda: False, timeout=0.3)
    source = VideoSource(context=ros_context, namespace="flir", parameter_overrides=[
        Parameter("path", value=str(tmp_path)), Parameter("rate", value=20.0),
        Parameter("encoding", value="bayer_rggb8")])
    executor.add_node(source)
    try:
        assert spin_until(executor, lambda: images, 5.0)
        msg = images[0]
        assert (msg.encoding, msg.width, msg.height, msg.step) == ("bayer_rggb8", 32, 24, 32)
        mosaic = np.frombuffer(bytes(msg.data), np.uint8).reshape(24, 32)
        assert mosaic[:2, :2].tolist() == [[30, 20], [20, 10]]
        assert (mosaic[0::2, 0::2] == 30).all() and (mosaic[1::2, 1::2] == 10).all()
    finally:
        executor.shutdown()
        source.destroy_node()
        listener.destroy_node()
