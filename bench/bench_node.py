"""Pose node costs on this machine, with the lightweight model at net input 456x256.

1. ROS overhead: node latency (an ``Image`` published -> its ``Pose2DArray`` received, over
   real DDS in one process) minus the bare core inference of that same frame, i.e. the
   node's own pipeline call, which the node times (``estimator_stats``). Taking both from the
   same run of the same frame keeps the noise of other processes on the two shared cores out
   of the difference. The bare core is also timed alone, alternated, for reference.
   Goal: overhead <= 5 % of inference.
2. Four cameras: one batched call of the pipeline on four frames vs four sequential calls,
   as a throughput ratio of median rounds (goal >= 1.0), alternated round by round. The node's own four-camera
   throughput (frames/s through DDS, batched by its worker) is printed as measured.

Frames are the first frames of the OpenPose example video (1280x720); run with
``OPENPOSE_ROS_SHARED`` pointing at the shared folder.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import rclpy
import torch
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from bench_common import bench_line  # noqa: E402

from openpose_ros.msg import Pose2DArray
from openpose_ros.pipeline import PipelineConfig, PosePipeline
from openpose_ros.ros.images import array_to_image
from openpose_ros.ros.pose_node import PoseNode

SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", Path(__file__).resolve().parents[2] /
                             "shared"))
VIDEO = SHARED / "data/video/openpose_video.avi"
SHARED_IR = SHARED / "data/models/intel_human_pose_estimation_0001_FP16-INT8"
IR_NAME = "human-pose-estimation-0001"
LATENCY_FRAMES = 12
BATCH_ROUNDS = 5
CAMERAS = 4
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
SENSOR = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


def read_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(VIDEO))
    frames = [capture.read()[1] for _ in range(count)]
    capture.release()
    if any(f is None for f in frames):
        sys.exit(f"cannot read {count} frames of {VIDEO}")
    return frames


class Driver:
    """A node that publishes images and waits for their results (one executor, this thread)."""

    def __init__(self, context: Context, executor: SingleThreadedExecutor, topics: list[str]):
        self.node = Node("bench_driver", context=context)
        self.executor = executor
        executor.add_node(self.node)
        # Images as cameras send them (best effort, the node's default sensor-data QoS).
        self.pubs = [self.node.create_publisher(Image, f"{t}/image_raw", SENSOR)
                     for t in topics]
        self.received: dict[int, float] = {}
        for t in topics:
            self.node.create_subscription(Pose2DArray, f"{t}/poses", self._on_result, RELIABLE)
        self._stamp = 0

    def _on_result(self, msg: Pose2DArray) -> None:
        self.received[msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec] = time.perf_counter()

    def wait_matched(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
                p.get_subscription_count() for p in self.pubs):
            self.executor.spin_once(timeout_sec=0.02)
        self.spin(0.5)  # the result publishers match the driver's subscriptions too

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def send(self, camera: int, frame: np.ndarray) -> int:
        self._stamp += 1
        msg = array_to_image(frame, "bgr8")
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1, self._stamp
        self.pubs[camera].publish(msg)
        return 10**9 + self._stamp

    def wait(self, stamps: list[int], timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(s in self.received for s in stamps):
            self.executor.spin_once(timeout_sec=0.05)  # returns at once on an event
        if not all(s in self.received for s in stamps):
            raise TimeoutError("the pose node did not answer")
        return max(self.received[s] for s in stamps)


def node_setup(context, pipeline, topics):
    # The node gets its own wrapper of the loaded estimator: releasing it on shutdown must
    # not take the networks from the core measurements.
    def share(config):
        return PosePipeline(pipeline.estimator, config=pipeline.config, device=pipeline.device)

    node = PoseNode(context=context, pipeline_factory=share,
                    parameter_overrides=[Parameter("image_topics", value=[f"{t}/image_raw"
                                                                          for t in topics]),
                                         Parameter("batch_window", value=0.05)])
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    driver = Driver(context, executor, topics)
    driver.wait_matched()
    return node, driver


def timed(worker: ThreadPoolExecutor, call) -> float:
    """Seconds ``call()`` takes on ``worker``: one long-lived thread, like the node's own
    inference worker (on this machine a torch call runs at a different speed in the main
    thread than in a worker thread, so both sides run in worker threads)."""
    def run() -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return worker.submit(run).result()


def main() -> int:
    if not VIDEO.is_file() or not SHARED_IR.is_dir():
        sys.exit(f"needs {VIDEO} and {SHARED_IR} (set OPENPOSE_ROS_SHARED)")
    torch.set_num_threads(2)
    frames = read_frames(max(LATENCY_FRAMES, CAMERAS))
    with tempfile.TemporaryDirectory() as models:
        folder = Path(models) / "intel" / IR_NAME / "FP16-INT8"  # the registry's layout
        folder.mkdir(parents=True)
        for suffix in (".xml", ".bin"):
            (folder / f"{IR_NAME}{suffix}").symlink_to(SHARED_IR / f"{IR_NAME}{suffix}")
        pipeline = PosePipeline.load(PipelineConfig(
            model="LIGHTWEIGHT_COCO_18", models_dir=models, device="cpu",
            net_resolution=(-1, 256)))
    worker = ThreadPoolExecutor(max_workers=1)
    timed(worker, lambda: pipeline(frames[:1]))  # warm-up
    context = Context()
    rclpy.init(context=context, domain_id=90 + os.getpid() % 10)
    try:
        # 1. one camera: for each frame, the node's latency and the inference inside the node
        # for that very frame (its own pipeline call, timed by the node); the bare core on
        # the same frame, alternated, for reference.
        node, driver = node_setup(context, pipeline, ["/bench1"])
        driver.wait([driver.send(0, frames[0])])  # warm the path
        node.estimator_stats.take_seconds()
        core_s, node_s, inside_s = [], [], []
        for frame in frames[:LATENCY_FRAMES]:
            core_s.append(timed(worker, lambda: pipeline([frame])))
            start = time.perf_counter()
            node_s.append(driver.wait([driver.send(0, frame)]) - start)
            inside_s.extend(node.estimator_stats.take_seconds())
        node.stop()
        node.destroy_node()
        driver.node.destroy_node()
        overhead = [n - i for n, i in zip(node_s, inside_s)]
        overhead_pct = 100 * statistics.median(overhead) / statistics.median(inside_s)

        # 2. four cameras: batched vs sequential pipeline calls, then the node's throughput
        four = frames[:CAMERAS]
        batched, sequential = [], []
        for _ in range(BATCH_ROUNDS):
            batched.append(timed(worker, lambda: pipeline(four)))
            sequential.append(timed(worker, lambda: [pipeline([f]) for f in four]))
        speedup = statistics.median(sequential) / statistics.median(batched)
        topics = [f"/bench4_{i}" for i in range(CAMERAS)]
        node, driver = node_setup(context, pipeline, topics)
        start = time.perf_counter()
        for _ in range(BATCH_ROUNDS):
            driver.wait([driver.send(i, f) for i, f in enumerate(four)])
        node_fps = CAMERAS * BATCH_ROUNDS / (time.perf_counter() - start)
        sizes = list(node.estimator_stats.batch_sizes)
        node.stop()
        node.destroy_node()
        driver.node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        worker.shutdown()

    med = statistics.median
    print(f"1 camera, {LATENCY_FRAMES} frames (medians): node latency {1e3 * med(node_s):.1f} ms"
          f" = inference in the node {1e3 * med(inside_s):.1f} ms + ROS {1e3 * med(overhead):.1f}"
          f" ms; bare core alternated {1e3 * med(core_s):.1f} ms (min {1e3 * min(core_s):.1f})")
    print(f"4 cameras, {BATCH_ROUNDS} rounds (medians): batched {1e3 * med(batched):.0f} ms, "
          f"sequential {1e3 * med(sequential):.0f} ms; node forward batches {sizes}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(bench_line("core_inference_456x256_ms", 1e3 * med(core_s)))
    print(bench_line("node_latency_456x256_ms", 1e3 * med(node_s)))
    print(bench_line("ros_overhead_ms", 1e3 * med(overhead)))
    print(bench_line("ros_overhead_pct", overhead_pct, "<=5"))
    print(bench_line("batched_4cam_speedup", speedup, ">=1.0"))
    print(bench_line("node_4cam_frames_per_s", node_fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
