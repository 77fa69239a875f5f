"""HRI bridge cost per frame: 20 tracked BODY_25 people with faces, one camera.

The bridge node's own frame handler (``HriBridge._on_poses``: message -> ``People`` -> REP-155
skeletons, ROIs, landmarks -> per-id messages published, plus the ``tracked`` lists) is timed
on a real rclpy node with a subscriber on every body's skeleton topic, so each publish goes
through DDS. The REP-155 core alone (``skeleton_2d``, ``regions_of_interest``,
``face_landmarks`` on the same arrays) is timed in the same run for the share it takes.
Goal: a frame of 20 people in <= 33 ms, so the bridge keeps up with a 30 Hz camera on one core.
Most of it is rclpy converting the nested point objects while publishing (a ``FacialLandmarks``
holds 70 of them); the messages themselves are reused, not rebuilt (``Rep155Messages``).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from hri_msgs.msg import Skeleton2D
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from bench_common import bench_line

from openpose_ros.hri.skeleton import face_landmarks, regions_of_interest, skeleton_2d
from openpose_ros.layouts import BODY_25
from openpose_ros.people import People
from openpose_ros.ros.convert import people_to_msg
from openpose_ros.ros.hri_bridge import HriBridge
from openpose_ros.ros.qos_watch import result_qos

PEOPLE, FRAMES, SIZE = 20, 200, (1280, 720)


def frame(rng: np.random.Generator, k: int):
    body = np.concatenate([rng.uniform(0, 1, (PEOPLE, 25, 2)) * SIZE,
                           rng.uniform(0.1, 1, (PEOPLE, 25, 1))], axis=2)
    face = np.concatenate([rng.uniform(0, 1, (PEOPLE, 70, 2)) * SIZE,
                           rng.uniform(0.1, 1, (PEOPLE, 70, 1))], axis=2)
    people = People(BODY_25, SIZE, body, np.ones(PEOPLE), face=face, track_ids=np.arange(PEOPLE))
    return people, people_to_msg(people, Header(stamp=Time(sec=k + 1), frame_id="cam"))


def main() -> None:
    rng = np.random.default_rng(0)
    context = Context()
    rclpy.init(context=context, domain_id=80 + os.getpid() % 10)
    try:
        bridge = HriBridge(context=context, parameter_overrides=[
            Parameter("pose_topics", value=["/bench/poses"])])
        sink = Node("bench_sink", context=context)
        executor = SingleThreadedExecutor(context=context)
        for node in (bridge, sink):
            executor.add_node(node)
        subs = [sink.create_subscription(Skeleton2D, f"/humans/bodies/c0_{i}/skeleton2d",
                                         lambda m: None, result_qos()) for i in range(PEOPLE)]
        frames = [frame(rng, k) for k in range(FRAMES)]
        bridge._on_poses(0, frames[0][1])  # creates the per-id publishers
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
                p[0].get_subscription_count() for p in bridge.body_pubs.values()):
            executor.spin_once(timeout_sec=0.05)
        node_ms, core_ms = [], []
        for people, msg in frames:
            t0 = time.perf_counter()
            bridge._on_poses(0, msg)
            t1 = time.perf_counter()
            skeleton_2d(people.body, BODY_25, SIZE)
            regions_of_interest(people.body, SIZE, padding=0.1)
            face_landmarks(people.face, SIZE)
            regions_of_interest(people.face, SIZE)
            t2 = time.perf_counter()
            node_ms.append(1e3 * (t1 - t0))
            core_ms.append(1e3 * (t2 - t1))
            executor.spin_once(timeout_sec=0)
        assert not bridge.drops, bridge.drops
        print(bench_line("hri_bridge_frame_ms_20people", statistics.median(node_ms), "<=33"))
        print(bench_line("hri_core_ms_20people", statistics.median(core_ms)))
        del subs
        bridge.destroy_node()
        sink.destroy_node()
    finally:
        rclpy.shutdown(context=context)


if __name__ == "__main__":
    main()
