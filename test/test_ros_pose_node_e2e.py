"""End to end over real rclpy: the OpenPose example video through the video source and the pose
node with the real lightweight model (Intel's human-pose-estimation-0001 IR).

Only the first 8 of the video's 205 frames are used (1280x720), at a reduced net input of
344x192 (``-1x192``; the bench uses 456x256), in lock-step so that none is superseded. Each result must equal, bit for bit after the message round trip,
what the core pipeline computes on the same decoded frame.
"""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile

from openpose_ros.layouts import COCO_18
from openpose_ros.msg import Pose2DArray
from openpose_ros.pipeline import PipelineConfig, PosePipeline, parse_net_resolution
from openpose_ros.ros.convert import msg_to_people
from openpose_ros.ros import demo, pose_node
from openpose_ros.ros.pose_node import PoseNode
from openpose_ros.ros.video_source import VideoSource
from conftest import ROS_DOMAIN_ID
from ros_utils import spin_until

FRAMES = 8
NET_RESOLUTION = "-1x192"
SHARED_IR = "models/intel_human_pose_estimation_0001_FP16-INT8"
IR_NAME = "human-pose-estimation-0001"


@pytest.fixture(scope="module")
def video(shared_data):
    path = shared_data / "video" / "openpose_video.avi"
    capture = cv2.VideoCapture(str(path))
    frames = [capture.read()[1] for _ in range(FRAMES)]
    capture.release()
    assert all(f is not None and f.shape == (720, 1280, 3) for f in frames)
    return path, frames


@pytest.fixture(scope="module")
def models_dir(shared_data, tmp_path_factory):
    """A models directory in the registry's layout, linking the shared IR (never copied)."""
    root = tmp_path_factory.mktemp("models")
    folder = root / "intel" / IR_NAME / "FP16-INT8"
    folder.mkdir(parents=True)
    for suffix in (".xml", ".bin"):
        (folder / f"{IR_NAME}{suffix}").symlink_to(shared_data / SHARED_IR / f"{IR_NAME}{suffix}")
    return str(root)


def test_video_through_the_pose_node_equals_the_core(ros_context, video, models_dir):
    path, frames = video
    params = dict(model="LIGHTWEIGHT_COCO_18", models_dir=models_dir, device="cpu",
                  net_resolution=NET_RESOLUTION, image_topics=["/e2e/image_raw"],
                  reliability="reliable", image_timeout=60.0)
    executor = SingleThreadedExecutor(context=ros_context)
    pose = PoseNode(context=ros_context,
                    parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    assert pose.lifecycle_state == "active", pose.problem
    results: list[Pose2DArray] = []
    listener = Node("e2e_listener", context=ros_context)
    listener.create_subscription(Pose2DArray, "/e2e/poses", results.append, QoSProfile(depth=20))
    source = VideoSource(context=ros_context, namespace="e2e", parameter_overrides=[
        Parameter("path", value=str(path)), Parameter("frame_id", value="e2e_optical"),
        Parameter("max_frames", value=FRAMES), Parameter("wait_for_results", value="/e2e/poses")])
    for node in (pose, listener, source):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: source.done, 120.0)
        assert spin_until(executor, lambda: len(results) == FRAMES, 5.0)
        assert source.answered == FRAMES and pose.cameras[0].stats.drops["superseded"] == 0
        sent = {stamp: index for stamp, index in source.stamps.items()}
    finally:
        executor.shutdown()
        pose.stop()
        for node in (pose, listener, source):
            node.destroy_node()

    core = PosePipeline.load(PipelineConfig(
        model="LIGHTWEIGHT_COCO_18", models_dir=models_dir, device="cpu",
        net_resolution=parse_net_resolution(NET_RESOLUTION)))
    with_people = 0
    for msg in results:
        index = sent[(msg.header.stamp.sec, msg.header.stamp.nanosec)]
        assert msg.header.frame_id == "e2e_optical"
        assert (msg.image_width, msg.image_height) == (1280, 720)
        assert msg.layout == Pose2DArray.LAYOUT_COCO_18
        got = msg_to_people(msg)
        want = core([frames[index]])[0]
        assert got.layout is COCO_18 and len(got) == len(want)
        np.testing.assert_array_equal(got.body, want.body)
        np.testing.assert_array_equal(got.scores, want.scores)
        with_people += len(got) > 0
    assert with_people >= FRAMES // 2, "the lightweight model sees people in this video"


def test_demo_writes_annotated_video_and_openpose_json(video, models_dir, tmp_path, monkeypatch,
                                                       capsys):
    """The main job, on 3 frames: one process, real ROS graph, lightweight model."""
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ROS_DOMAIN_ID))
    path, frames = video
    out = tmp_path / "out"
    code = demo.main(["--input", str(path), "--output", str(out), "--max-frames", "3",
                      "--models-dir", models_dir, f"--net-resolution={NET_RESOLUTION}",
                      "--device", "cpu", "--no-download"])
    summary = capsys.readouterr().out
    assert code == 0, summary
    assert "frames published 3, answered 3, dropped 0" in summary
    names = sorted(p.name for p in (out / "json").iterdir())
    assert names == [f"openpose_video_{i:012d}_keypoints.json" for i in range(3)]
    first = json.loads((out / "json" / names[0]).read_text())
    assert first["version"] == 1.3 and first["people"]
    assert len(first["people"][0]["pose_keypoints_2d"]) == 18 * 3
    capture = cv2.VideoCapture(str(out / "openpose_video_annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == \
        (1280, 720)
    ok, drawn = capture.read()
    assert ok and np.abs(drawn.astype(int) - frames[0]).mean() > 0.5  # skeletons were drawn


def test_without_the_model_the_node_and_the_demo_stop_at_once_saying_what_to_do(
        video, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ROS_DOMAIN_ID))
    empty = tmp_path / "no_models"
    empty.mkdir()
    start = time.monotonic()
    code = pose_node.main(["--ros-args", "-p", f"models_dir:={empty}",
                           "-p", "model:=LIGHTWEIGHT_COCO_18"])
    assert code == 1
    logged = capfd.readouterr().err
    assert "python -m openpose_ros.nets.registry download LIGHTWEIGHT_COCO_18" in logged
    code = demo.main(["--input", str(video[0]), "--output", str(tmp_path / "out"),
                      "--models-dir", str(empty), "--no-download"])
    assert code == 1 and "registry download LIGHTWEIGHT_COCO_18" in capfd.readouterr().err
    assert time.monotonic() - start < 10
