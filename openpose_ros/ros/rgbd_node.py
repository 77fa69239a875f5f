"""The RGB-D node: one colour camera's ``Pose2DArray`` + its depth image -> ``Pose3DArray``, TF, markers.

A thin adapter around the ROS-free core (``openpose_ros.rgbd``): poses and depth images are
paired by stamp with our synchroniser (``threed.sync``, ``slop``), the depth is decoded
(``depth_codec``: 16UC1, 32FC1, compressedDepth) only once paired, raw images only where the
estimator reads them, and each pair goes through
``RgbdEstimator`` and ``RgbdIdentity``; ``People3DPublisher`` (shared with the triangulation node)
publishes the result in the colour camera's optical frame, stamped with the colour image's stamp.

Inputs: ``poses_topic`` (``Pose2DArray``, stamped with the colour image's header), ``depth_topic``
(``Image``, or ``CompressedImage`` in the compressedDepth format), ``camera_info_topic`` (colour
``CameraInfo``) and, for unregistered depth, ``depth_camera_info_topic`` plus the fixed
``depth_to_color`` extrinsic. Outputs: ``output_topic`` (``Pose3DArray``, ``num_views`` 1),
``/tf`` (``<tf_prefix>body_<id>`` and ``body_<id>/<Joint>``), ``marker_topic``.

Bad input never stops the node: an undecodable depth image or unknown encoding, depth whose size
disagrees with the colour image, depth without one valid pixel, a missing or all-zero CameraInfo,
a malformed ``Pose2DArray``, stamps that never pair - each is dropped, counted in ``drops`` by
reason and logged at most once per ``warn_period``. Within a frame, a person whose joints find
no depth is left out (``person_no_depth``) and the others are still published.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from openpose_ros.depth_codec import DepthImage, compressed_depth_to_metres, depth_image
from openpose_ros.image_codec import ImageFormatError
from openpose_ros.msg import Pose2DArray
from openpose_ros.rgbd.camera_info import camera_from_info
from openpose_ros.rgbd.estimator import DepthGeometry, RgbdEstimator, RgbdInputError
from openpose_ros.rgbd.identity import RgbdIdentity
from openpose_ros.ros.convert import MessageFormatError, msg_to_people
from openpose_ros.ros.drop_log import DropLog
from openpose_ros.ros.people3d_output import People3DPublisher
from openpose_ros.ros.param_table import declare_all
from openpose_ros.ros.qos_watch import image_qos, incompatible_qos_callbacks, result_qos
from openpose_ros.ros.rgbd_config import PARAMETERS, build_config
from openpose_ros.ros.session import run_node
from openpose_ros.threed.cameras import CalibrationError, Camera
from openpose_ros.threed.sync import StampSynchronizer, SyncConfig, SyncedSet

__all__ = ["RgbdNode", "main"]

POSES, DEPTH = 0, 1
#: A poses stamp this far before the previous one is a restart (a bag loop), not jitter.
_BACKWARDS_S = 1.0


def _stamp_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _camera(name: str, msg: CameraInfo, R=np.eye(3), t=np.zeros(3)) -> Camera:
    roi = (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height)
    return camera_from_info(name, msg.k, msg.d, msg.distortion_model, msg.width, msg.height,
                            binning_x=msg.binning_x, binning_y=msg.binning_y, roi=roi, R=R, t=t)


class RgbdNode(Node):
    """One RGB-D camera to 3D people (parameters: ``rgbd_config.PARAMETERS``).

    Raises ``ValueError`` from the constructor for bad parameters.
    """

    def __init__(self, node_name: str = "rgbd_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.config = c = build_config(declare_all(self, PARAMETERS))
        self._drops = DropLog(self.get_logger(), c.warn_period)
        self.drops, self.problems = self._drops.drops, self._drops.problems
        self.published = 0
        self.sync = StampSynchronizer(SyncConfig(2, slop_s=c.slop_s, queue_size=c.queue_size))
        self._sync_dropped = self._duplicates = 0
        self._last_stamp = {POSES: None, DEPTH: None}
        self._paired_since_drop = 0  # pose/depth pairs made since the last unpaired drop
        self.identity = RgbdIdentity(c.tracking, track_3d=c.track_3d, smoothing=c.smoothing)
        self._color: Camera | None = None
        self._depth_cam: Camera | None = None
        self._estimator: RgbdEstimator | None = None
        self.output = People3DPublisher(self, c.output)
        self._frame_id = c.frame_id
        sensor = image_qos(c.reliability, max(c.queue_size, 5))
        self.create_subscription(Pose2DArray, c.poses_topic, self._on_poses, result_qos(c.queue_size))
        self.create_subscription(
            CompressedImage if c.depth_compressed else Image, c.depth_topic, self._on_depth, sensor,
            event_callbacks=incompatible_qos_callbacks(
                self, c.depth_topic, on_event=lambda policy: self.drops.update(["incompatible_qos"])))
        self.create_subscription(CameraInfo, c.camera_info_topic,
                                 lambda m: self._on_info(m, depth=False), sensor)
        if not c.registered:
            self.create_subscription(CameraInfo, c.depth_camera_info_topic,
                                     lambda m: self._on_info(m, depth=True), sensor)
        self.add_on_set_parameters_callback(
            lambda params: SetParametersResult(successful=False, reason="parameters are read at "
                                               "start-up: restart the node to change them"))
        kind = "compressedDepth" if c.depth_compressed else "Image"
        self.get_logger().info(
            f"poses {c.poses_topic} + depth {c.depth_topic} ({kind}, "
            f"{'registered' if c.registered else 'unregistered'}) + {c.camera_info_topic} "
            f"-> {self.output.pose_pub.topic_name}; slop {c.slop_s} s")

    # -- bookkeeping -----------------------------------------------------------------------

    def _drop(self, reason: str, text: str, count: int = 1) -> None:
        """Count a drop and warn, at most once per ``warn_period`` for each reason and source."""
        self._drops.drop(reason, text, count=count)

    def _on_info(self, msg: CameraInfo, *, depth: bool) -> None:
        c = self.config
        topic = c.depth_camera_info_topic if depth else c.camera_info_topic
        try:
            if depth:
                to_depth = np.linalg.inv(c.depth_to_color)  # X_d = R X_c + t
                cam = _camera("depth", msg, to_depth[:3, :3], to_depth[:3, 3])
            else:
                cam = _camera("color", msg)
        except (CalibrationError, ValueError) as err:
            kept = "keeping the previous one" if (self._depth_cam if depth else self._color) \
                else "frames are dropped until a valid one arrives"
            self._drop("bad_camera_info", f"{topic}: unusable CameraInfo ({kept}): {err}")
            return
        old = self._depth_cam if depth else self._color
        if old is not None and np.array_equal(old.K, cam.K) and np.array_equal(old.dist, cam.dist) \
                and old.image_size == cam.image_size:
            return
        if depth:
            self._depth_cam = cam
        else:
            self._color = cam
        self._estimator = None
        self.get_logger().info(f"{topic}: {cam.image_size[0]}x{cam.image_size[1]}, "
                               f"{cam.distortion_model}, fx {cam.K[0, 0]:.1f}")

    def _estimator_ready(self) -> RgbdEstimator | None:
        c = self.config
        if self._estimator is None and self._color is not None and (
                c.registered or self._depth_cam is not None):
            self._estimator = RgbdEstimator(DepthGeometry(self._color, self._depth_cam), c.estimator)
        return self._estimator

    # -- inputs ----------------------------------------------------------------------------

    def _on_poses(self, msg: Pose2DArray) -> None:
        try:
            self._add(POSES, _stamp_ns(msg.header.stamp), msg)
        except Exception as err:  # noqa: BLE001 - a callback must never take the node down
            self._drop("error", f"{self.config.poses_topic}: {type(err).__name__}: {err}")

    def _on_depth(self, msg) -> None:
        try:
            self._add(DEPTH, _stamp_ns(msg.header.stamp), msg)
        except Exception as err:  # noqa: BLE001
            self._drop("error", f"{self.config.depth_topic}: {type(err).__name__}: {err}")

    def _add(self, stream: int, stamp_ns: int, msg) -> None:
        last = self._last_stamp[stream]
        if last is not None and stamp_ns < last - _BACKWARDS_S * 1e9:
            self.get_logger().warning(f"stamps jumped back {(last - stamp_ns) / 1e9:.1f} s "
                                      "(a bag loop?): pairing and tracks start afresh")
            self.sync = StampSynchronizer(self.sync.config)
            self._sync_dropped = self._duplicates = 0
            self._paired_since_drop = 0
            self._last_stamp = {POSES: None, DEPTH: None}  # the other stream's jump is the same one
            self.identity.reset()
        self._last_stamp[stream] = stamp_ns
        sets = self.sync.add(stream, stamp_ns, msg)
        st = self.sync.stats
        if st.duplicates > self._duplicates:
            topic = self.config.poses_topic if stream == POSES else self.config.depth_topic
            self._drop("duplicate_stamp", f"{topic}: a second message stamped "
                       f"{stamp_ns / 1e9:.3f} s is ignored",
                       st.duplicates - self._duplicates)
            self._duplicates = st.duplicates
        dropped = st.stale + st.stragglers + st.overflow
        if dropped > self._sync_dropped:
            other = self._last_stamp[DEPTH if stream == POSES else POSES]
            gap = "nothing from the other topic yet" if other is None else \
                f"latest {('depth' if stream == POSES else 'poses')} stamp differs by " \
                f"{(stamp_ns - other) / 1e9:+.3f} s"
            if self._paired_since_drop:  # pairs still form: these partners were lost
                why = (f"{gap}; {self._paired_since_drop} pairs since the last drop: a partner "
                       "was lost (a dropped frame, or one the pose node did not process)")
            else:
                why = f"{gap}; nothing paired since: check the clocks, slop and queue_size"
            self._drop("unpaired", f"{self.config.poses_topic} + {self.config.depth_topic}: "
                       f"messages without a partner within slop {self.config.slop_s} s ({why})",
                       dropped - self._sync_dropped)
            self._sync_dropped = dropped
            self._paired_since_drop = 0
        self._paired_since_drop += len(sets)
        for synced in sets:
            self._process(synced)

    def _depth(self, msg) -> DepthImage:
        """The depth pixels; raw images stay unconverted (the estimator converts its windows)."""
        if isinstance(msg, CompressedImage):
            return DepthImage(compressed_depth_to_metres(msg.data, msg.format))
        return depth_image(msg.data, encoding=msg.encoding, height=msg.height, width=msg.width,
                           step=msg.step, is_bigendian=bool(msg.is_bigendian))

    # -- one pair --------------------------------------------------------------------------

    def _process(self, synced: SyncedSet) -> None:
        c = self.config
        poses, depth_msg = synced.payloads[POSES], synced.payloads[DEPTH]
        stamp = f"{synced.stamps_ns[POSES] / 1e9:.3f}"
        try:
            people = msg_to_people(poses)
        except MessageFormatError as err:
            self._drop("bad_message", f"{c.poses_topic}: {err}")
            return
        estimator = self._estimator_ready()
        if estimator is None:
            wait = c.camera_info_topic if self._color is None else c.depth_camera_info_topic
            self._drop("no_camera_info", f"{wait}: no valid CameraInfo yet; frame {stamp} dropped")
            return
        try:
            depth = self._depth(depth_msg)
        except ImageFormatError as err:
            self._drop("bad_depth", f"{c.depth_topic}: {err}")
            return
        try:
            estimator.check_depth(people.image_size, depth.shape)
        except RgbdInputError as err:
            self._drop("size_mismatch", f"{c.depth_topic}: {err}")
            return
        if not depth.any_valid():
            self._drop("no_valid_depth", f"{c.depth_topic}: frame {stamp} has no valid depth pixel")
            return
        estimate = estimator.estimate(people, depth)
        lost = len(people) - len(estimate.kept)
        if lost:
            self._drop("person_no_depth", f"{c.depth_topic}: {lost} of {len(people)} people at "
                       f"{stamp} found no consistent depth under their joints", lost)
        tracked, _ = self.identity.update(estimate.people, synced.stamps_ns[POSES] / 1e9)
        header = Header(stamp=poses.header.stamp, frame_id=c.frame_id or poses.header.frame_id)
        self._frame_id = header.frame_id
        self.output.publish(tracked, header, 1)
        self.published += 1

    def clear_markers(self) -> None:
        """Remove this node's markers from rviz (on shutdown)."""
        self.output.clear_markers(Header(stamp=self.get_clock().now().to_msg(),
                                         frame_id=self._frame_id))


def main(args: list[str] | None = None) -> int:
    """``ros2 run openpose_ros rgbd_node --ros-args -p depth_topic:=...``."""
    return run_node(args, RgbdNode, "rgbd_node", on_exit=RgbdNode.clear_markers)
