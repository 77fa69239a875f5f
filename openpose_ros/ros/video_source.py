"""A camera stand-in: a video file or an image folder published as ``Image`` + ``CameraInfo``.

Topics (relative, so a namespace or remapping places them): ``image_raw`` (``bgr8``, or what
the ``encoding`` parameter names, e.g. ``bayer_rggb8`` or ``yuyv``, to stand in for a camera
that publishes it) and ``camera_info``. Frames go out at the file's rate (``rate`` overrides it; folders default to
10 Hz), stamped with the publishing time.

Lock-step mode (``wait_for_results`` names a ``Pose2DArray`` topic): the first frame waits
until the images have a subscriber and the results a publisher; each next frame is published
only once the result stamped like the previous frame came back (or
``result_timeout`` passed, and the frame counts as unanswered). The demo uses it so that a
network slower than the video still sees every frame; the pose node itself keeps its
newest-frame-only behaviour.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import rclpy
import yaml
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from openpose_ros.frames import FrameReader, VideoSourceError
from openpose_ros.image_codec import ImageFormatError, bgr8_to
from openpose_ros.msg import Pose2DArray
from openpose_ros.ros.images import array_to_image
from openpose_ros.ros.session import ros_session

__all__ = ["VideoSource", "FrameReader", "VideoSourceError", "load_camera_info", "main"]

_FOLDER_RATE = 10.0


def load_camera_info(url: str) -> CameraInfo:
    """A ROS camera-calibration YAML (``file:///path.yaml`` or a path) as ``CameraInfo``."""
    path = Path(urlparse(url).path if url.startswith("file://") else url).expanduser()
    try:
        data = yaml.safe_load(path.read_text())
        info = CameraInfo(width=int(data["image_width"]), height=int(data["image_height"]),
                          distortion_model=data.get("distortion_model", "plumb_bob"))
        k = [float(v) for v in data["camera_matrix"]["data"]]
        info.k = k
        info.d = [float(v) for v in data.get("distortion_coefficients", {}).get("data", [])]
        info.r = [float(v) for v in data.get("rectification_matrix", {}).get(
            "data", [1, 0, 0, 0, 1, 0, 0, 0, 1])]
        # Without a projection matrix the camera is its own: P = [K | 0].
        info.p = [float(v) for v in data.get("projection_matrix", {}).get(
            "data", k[0:3] + [0.0] + k[3:6] + [0.0] + k[6:9] + [0.0])]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AssertionError) as err:
        raise VideoSourceError(f"camera_info_url {url!r}: {err}") from None
    return info


class VideoSource(Node):
    """Publishes a video or image folder (parameters: path, frame_id, encoding, rate, loop,
    camera_info_url, max_frames, wait_for_results, result_timeout, reliability).

    Raises:
        VideoSourceError: ``path`` or ``camera_info_url`` cannot be read.
    """

    def __init__(self, node_name: str = "video_source", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = self.declare_parameter
        path = p("path", "").value
        self.frame_id = p("frame_id", "camera").value
        self.encoding = p("encoding", "bgr8").value
        rate = p("rate", 0.0).value
        self.loop = p("loop", False).value
        info_url = p("camera_info_url", "").value
        self.max_frames = p("max_frames", 0).value
        results_topic = p("wait_for_results", "").value
        self.result_timeout = p("result_timeout", 30.0).value
        reliable = p("reliability", "reliable").value == "reliable"
        if not path:
            raise VideoSourceError("parameter path is empty: give a video file or image folder")
        try:
            bgr8_to(np.zeros((2, 2, 3), np.uint8), self.encoding)
        except ImageFormatError as err:
            raise VideoSourceError(f"parameter encoding: {err}") from None
        self.reader = FrameReader(path)
        self.rate = rate if rate > 0 else (self.reader.fps or _FOLDER_RATE)
        self._info = None if info_url == "none" else (
            load_camera_info(info_url) if info_url else CameraInfo())
        qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        self._image_pub = self.create_publisher(Image, "image_raw", qos)
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", qos) \
            if self._info is not None else None
        self.lockstep = bool(results_topic)
        self._result_sub = None
        if self.lockstep:
            self._result_sub = self.create_subscription(Pose2DArray, results_topic, self._on_result,
                                     QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.published = self.answered = self.unanswered = 0
        self.stamps: dict[tuple[int, int], int] = {}  # stamp -> frame index, for recorders
        self.finished = False
        self._pending: tuple[int, int] | None = None
        self._sent_at = self._last_publish = -float("inf")
        self.create_timer(1.0 / self.rate, self._tick)

    def _on_result(self, msg: Pose2DArray) -> None:
        if self._pending == (msg.header.stamp.sec, msg.header.stamp.nanosec):
            self.answered += 1
            self._pending = None
            self._tick()  # the next frame need not wait for the timer

    def _tick(self) -> None:
        if self.finished:
            return
        now = time.monotonic()
        if self._pending is not None:
            if now - self._sent_at < self.result_timeout:
                return
            self.get_logger().warning(f"no result for frame {self.published - 1} within "
                                      f"{self.result_timeout} s; going on")
            self.unanswered += 1
            self._pending = None
        if now - self._last_publish < 0.999 / self.rate or not self._pipeline_ready():
            return
        if self.max_frames and self.published >= self.max_frames:
            self.finished = True
            return
        frame = self.reader.read()
        if frame is None and self.loop and self.published:
            self.reader.rewind()
            frame = self.reader.read()
        if frame is None:
            self.finished = True
            return
        self._publish(frame, now)

    def _pipeline_ready(self) -> bool:
        """In lock-step mode, frames wait until someone takes the images and publishes
        results (a frame sent before DDS matched both would never be answered)."""
        return not self.lockstep or (self._image_pub.get_subscription_count() > 0
                                     and self._result_sub.get_publisher_count() > 0)

    def _publish(self, frame: np.ndarray, now: float) -> None:
        try:
            msg = array_to_image(bgr8_to(frame, self.encoding), self.encoding)
        except ImageFormatError as err:  # e.g. an odd-width video as yuyv
            self.get_logger().error(f"cannot publish frame {self.published}: {err}")
            self.finished = True
            return
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.stamps[stamp] = self.published
        if self._info_pub is not None:
            self._info.header = msg.header
            self._info.width, self._info.height = msg.width, msg.height
            self._info_pub.publish(self._info)
        if self.lockstep:
            self._pending, self._sent_at = stamp, now
        self._image_pub.publish(msg)
        self.published += 1
        self._last_publish = now

    @property
    def done(self) -> bool:
        """Finished and no frame is still waiting for its result."""
        return self.finished and self._pending is None


def main(args: list[str] | None = None) -> int:
    """``ros2 run openpose_ros video_source --ros-args -p path:=VIDEO``; exits at the end
    of the input (unless ``loop``)."""
    with ros_session(args):
        try:
            node = VideoSource()
        except VideoSourceError as err:
            rclpy.logging.get_logger("video_source").fatal(str(err))
            return 1
        try:
            while rclpy.ok() and not node.done:
                rclpy.spin_once(node, timeout_sec=0.1)
            node.get_logger().info(f"published {node.published} frames")
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            node.reader.close()
            node.destroy_node()
    return 0
