"""The main job in one command: a video through the pose node on the real ROS graph.

    python -m openpose_ros.ros.demo --input VIDEO --output DIR [--model LIGHTWEIGHT_COCO_18]
                                    [--max-frames N] [--no-tracking] [--device auto]
                                    [--engine auto] [--precision auto] [--num-threads 0]

Three nodes share one executor in this process: the video source (lock-step: the next frame
goes out when the previous result came back, so a slow network still sees every frame), the
pose node (newest-frame-only as always), and a recorder that subscribes to the pose node's
outputs and writes ``DIR/<video>_annotated.mp4`` (the node's annotated images) and one
OpenPose JSON per frame, ``DIR/json/<video>_<frame:012d>_keypoints.json``. It exits when the
video has ended and every published frame was answered or counted as dropped, and prints a
summary. Tracking is on (``--no-tracking`` turns it off): the JSON's ``person_id`` and the
annotated video carry each person's track id. Without the model files it stops at once with the registry's what-to-do message.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from openpose_ros.cli import add_device_arguments
from openpose_ros.msg import Pose2DArray
from openpose_ros.ros.convert import msg_to_people
from openpose_ros.ros.images import image_to_bgr8
from openpose_ros.ros.pose_config import MODELS
from openpose_ros.ros.pose_node import PoseNode
from openpose_ros.ros.session import ros_session
from openpose_ros.ros.video_source import VideoSource, VideoSourceError

__all__ = ["Recorder", "main", "parse_args"]

_CAMERA = "/demo_camera"
_GRACE_S = 5.0  # after the last answer, how long the recorder may take to get everything


class Recorder(Node):
    """Writes the pose node's results: annotated video and per-frame OpenPose JSON.

    Args:
        output: output folder (created).
        name: file name stem (the video's).
        fps: frame rate written into the video.
        frame_index: callable ``(sec, nanosec) -> frame index`` (the source's stamps).
    """

    def __init__(self, output: Path, name: str, fps: float, frame_index, **kwargs) -> None:
        super().__init__("pose_recorder", **kwargs)
        self.output, self.name, self.fps = output, name, fps
        self._frame_index = frame_index
        (output / "json").mkdir(parents=True, exist_ok=True)
        self.people_per_frame: list[int] = []
        self.track_ids: set[int] = set()
        self.images = 0
        self._writer = None
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Pose2DArray, f"{_CAMERA}/poses", self._on_poses, qos)
        self.create_subscription(Image, f"{_CAMERA}/poses/image", self._on_image, qos)

    @property
    def video_path(self) -> Path:
        return self.output / f"{self.name}_annotated.mp4"

    def _index(self, header) -> int:
        return self._frame_index((header.stamp.sec, header.stamp.nanosec))

    def _on_poses(self, msg: Pose2DArray) -> None:
        from openpose_ros.decode.openpose_json import write_openpose_json

        people = msg_to_people(msg)
        self.people_per_frame.append(len(people))
        self.track_ids.update(int(i) for i in people.track_ids if i >= 0)
        path = self.output / "json" / f"{self.name}_{self._index(msg.header):012d}_keypoints.json"
        write_openpose_json(path, people)

    def _on_image(self, msg: Image) -> None:
        import cv2

        frame = image_to_bgr8(msg)
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"),
                                           self.fps, (frame.shape[1], frame.shape[0]))
        self._writer.write(np.ascontiguousarray(frame))
        self.images += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m openpose_ros.ros.demo",
        description="Run a video through the pose node and write an annotated video + JSON.")
    parser.add_argument("--input", required=True, help="video file or image folder")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--model", default="LIGHTWEIGHT_COCO_18", choices=MODELS)
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    parser.add_argument("--net-resolution", default="-1x256",
                        help="net input WxH, one side -1; write --net-resolution=-1x368 "
                        "(default -1x256: 456x256 for 16:9)")
    add_device_arguments(parser)
    parser.add_argument("--models-dir", default="", help="model folder (default: registry's)")
    parser.add_argument("--hand", action="store_true", help="also detect hands")
    parser.add_argument("--face", action="store_true", help="also detect faces")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a missing model; stop with what to do instead")
    parser.add_argument("--tracking", action=argparse.BooleanOptionalAction, default=True,
                        help="track people across frames (default on): person_id in the JSON, "
                        "ids drawn")
    return parser.parse_known_args(argv)


def ensure_models(args: argparse.Namespace) -> bool:
    """Every model the run needs is installed, downloading what is missing (unless
    ``--no-download``); False, with the registry's what-to-do printed, when one cannot be had."""
    from openpose_ros.nets.registry import ensure_installed

    names = [args.model] + ["HAND_21"] * args.hand + ["FACE_70"] * args.face
    problem = ensure_installed(names, args.models_dir or None,
                               download_missing=not args.no_download)
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
    return problem is None


def _pose_parameters(args: argparse.Namespace) -> list[Parameter]:
    return [Parameter(name, value=value) for name, value in (
        ("image_topics", [f"{_CAMERA}/image_raw"]), ("model", args.model),
        ("net_resolution", args.net_resolution), ("device", args.device),
        ("engine", args.engine), ("precision", args.precision),
        ("num_threads", args.num_threads),
        ("models_dir", args.models_dir), ("hand", args.hand), ("face", args.face),
        ("reliability", "reliable"), ("image_timeout", 60.0), ("tracking", args.tracking))]


def _summary(source: VideoSource, pose: PoseNode, recorder: Recorder, seconds: float) -> str:
    counts = np.array(recorder.people_per_frame or [0])
    drops = sum(sum(cam.stats.drops.values()) for cam in pose.cameras)
    answered = len(recorder.people_per_frame)
    return "\n".join([
        f"frames published {source.published}, answered {answered}, "
        f"dropped {drops + source.unanswered} (node {drops}, no answer {source.unanswered})",
        f"people per frame: mean {counts.mean():.2f}, min {counts.min()}, max {counts.max()}",
        f"track ids given: {len(recorder.track_ids)}" if pose.settings.tracking
        else "tracking off",
        f"{answered / max(seconds, 1e-9):.2f} frames/s end to end over {seconds:.1f} s "
        f"({pose.pipeline.describe() if pose.pipeline else pose.pipeline_config.model})",
        f"annotated video: {recorder.video_path} ({recorder.images} frames)",
        f"OpenPose JSON: {recorder.output / 'json'}",
    ])


def run(args: argparse.Namespace, ros_args: list[str] | None = None) -> int:
    """Run the demo; 0 on success, 1 when the input or the model is unusable."""
    if not Path(args.input).exists():
        print(f"demo: {args.input}: no such video file or image folder", file=sys.stderr)
        return 1
    if not ensure_models(args):
        return 1
    with ros_session(ros_args):
        try:
            source = VideoSource(namespace=_CAMERA, parameter_overrides=[
                Parameter("path", value=args.input), Parameter("frame_id", value="demo_camera"),
                Parameter("max_frames", value=args.max_frames),
                Parameter("wait_for_results", value=f"{_CAMERA}/poses")])
        except VideoSourceError as err:
            print(f"demo: {err}", file=sys.stderr)
            return 1
        pose = PoseNode(parameter_overrides=_pose_parameters(args))
        if pose.lifecycle_state != "active":
            print(f"demo: the pose node did not start: {pose.problem}", file=sys.stderr)
            pose.destroy_node()
            source.destroy_node()
            return 1
        output = Path(args.output)
        recorder = Recorder(output, Path(args.input).stem, source.rate,
                            lambda stamp: source.stamps.get(stamp, -1))
        executor = SingleThreadedExecutor()
        for node in (source, pose, recorder):
            executor.add_node(node)
        start = time.monotonic()
        finished_at = None
        try:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.05)
                if source.done and finished_at is None:
                    finished_at = time.monotonic()
                recorded = len(recorder.people_per_frame)
                if finished_at is not None and (
                        (recorded >= source.answered and recorder.images >= recorded)
                        or time.monotonic() - finished_at > _GRACE_S):
                    break
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            seconds = time.monotonic() - start
            recorder.close()
            print(_summary(source, pose, recorder, seconds))
            pose.stop()
            for node in (source, pose, recorder):
                node.destroy_node()
            executor.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    args, ros_args = parse_args(argv)
    return run(args, ros_args or None)


if __name__ == "__main__":
    sys.exit(main())
