"""End to end: the installed ``hri_bridge`` executable in its own process, fed over DDS.

This process publishes ``Pose2DArray`` frames as a pose node would and reads the REP-155 topics
the bridge publishes; a frame it cannot read must not stop it, and on SIGINT it empties
``/humans/bodies/tracked`` (listeners drop their bodies) and exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from hri_msgs.msg import IdsList, Skeleton2D
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from conftest import REPO, ROS_DOMAIN_ID
from openpose_ros.layouts import BODY_25
from openpose_ros.msg import Pose2DArray
from openpose_ros.ros.qos_watch import result_qos
from ros_utils import spin_until, wait_for_subscribers
from test_ros_hri_bridge import H, W, person_body, pose_msg

EXE = REPO / "install" / "lib" / "openpose_ros" / "hri_bridge"
TOPIC = "/e2e_hri/cam/poses"


@pytest.fixture
def bridge_process(tmp_path):
    if not os.access(EXE, os.X_OK):
        pytest.skip(f"{EXE} is not installed (run make setup)")
    env = dict(os.environ, ROS_DOMAIN_ID=str(ROS_DOMAIN_ID))
    log = open(tmp_path / "hri_bridge.log", "w+")
    proc = subprocess.Popen([str(EXE), "--ros-args", "-p", f"pose_topics:=[{TOPIC}]",
                             "-p", "id_prefixes:=[front]", "-p", "warn_period:=0.0",
                             "-p", "camera_timeout:=600.0"],  # only shutdown empties tracked
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    yield proc, log
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    log.close()


def _log(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def test_installed_bridge_publishes_rep155_from_pose_messages(ros_context, bridge_process):
    proc, log = bridge_process
    executor = SingleThreadedExecutor(context=ros_context)
    node = Node("hri_e2e_feeder", context=ros_context)
    executor.add_node(node)
    qos = result_qos(depth=50)
    pub = node.create_publisher(Pose2DArray, TOPIC, qos)
    tracked: list[IdsList] = []
    skeletons: list[Skeleton2D] = []
    node.create_subscription(IdsList, "/humans/bodies/tracked", tracked.append, qos)
    node.create_subscription(Skeleton2D, "/humans/bodies/front_3/skeleton2d", skeletons.append, qos)
    try:
        wait_for_subscribers(executor, pub, timeout=60.0)  # the process imports torch & co
        bad = pose_msg([3], BODY_25)
        bad.image_height = 0
        pub.publish(bad)  # counted and skipped, never fatal

        def feed() -> bool:
            pub.publish(pose_msg([3], BODY_25, frame="front_optical"))
            return bool(skeletons) and any(list(m.ids) == ["front_3"] for m in tracked)

        assert spin_until(executor, feed, 30.0, step=0.1), _log(log)
        assert proc.poll() is None, _log(log)
        sk = skeletons[-1]
        assert sk.header.frame_id == "front_optical"
        nose = person_body(BODY_25)[BODY_25.index("Nose")]
        assert (sk.skeleton[Skeleton2D.NOSE].x, sk.skeleton[Skeleton2D.NOSE].y) == pytest.approx(
            (nose[0] / W, nose[1] / H))
        assert f"{TOPIC}: image size {W}x0: keypoints cannot be normalised" in _log(log)
        before = len(tracked)
        proc.send_signal(signal.SIGINT)
        assert spin_until(executor, lambda: proc.poll() is not None, 20.0), _log(log)
        assert proc.returncode == 0, _log(log)
        spin_until(executor, lambda: len(tracked) > before and not tracked[-1].ids, 2.0)
        assert list(tracked[-1].ids) == [], "shutdown leaves bodies tracked"
    finally:
        executor.shutdown()
        node.destroy_node()
