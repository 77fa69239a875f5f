"""The triangulation node: N cameras' ``Pose2DArray`` in, ``Pose3DArray``, TF and markers out.

A thin adapter around the ROS-free core (``openpose_ros.threed``): messages become ``People``,
go through the stamp synchroniser, and each synchronised set is reconstructed, tracked,
optionally smoothed and published, stamped with the mean stamp of the views used.

Inputs, per camera of the calibration (in its order): the ``Pose2DArray`` topic named by the
calibration entry (else ``pose_topic_pattern``), whose ``header.frame_id`` must be the camera's
name; with ``use_camera_info`` (or when the calibration has no intrinsics for it) also its
``CameraInfo`` topic. Outputs: ``output_topic`` (``Pose3DArray`` in the world frame), ``/tf``
(``<tf_prefix>body_<id>`` per person at its MidHip, else Neck, else joint centroid, world-aligned;
``<tf_prefix>body_<id>/<Joint>`` per reconstructed joint, a child of it), ``/tf_static`` (each
camera's optical frame in the world), ``marker_topic`` (``MarkerArray``).

Bad input never stops the node and never produces a wrong output: a message with an unknown
frame, a malformed message, a camera still without valid intrinsics (missing or all-zero
CameraInfo), a layout or image size that disagrees - each is dropped, counted in ``drops`` and
logged (throttled); a set left with fewer than two usable views publishes nothing. An image size
that is codec padding or an integer fraction of the calibrated one is used (``image_geometry``)
with one warning; CameraInfo ``binning_x/y`` and ``roi`` are applied as image_geometry does.

Hands and faces in the 2D input are triangulated with their body's views (``Person3D``
``left_hand``, ``right_hand``, ``face``); ``publish_hand_tf`` adds a TF frame per hand joint.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from openpose_ros.msg import Pose2DArray
from openpose_ros.ros.convert import MessageFormatError, msg_to_people
from openpose_ros.ros.drop_log import DropLog
from openpose_ros.ros.people3d_output import ROOT_JOINTS, People3DPublisher
from openpose_ros.ros.param_table import declare_all
from openpose_ros.ros.qos_watch import result_qos
from openpose_ros.ros.session import run_node
from openpose_ros.ros.tf_publish import TfPublisher, make_transform, quaternion_from_matrix
from openpose_ros.ros.triangulation_config import PARAMETERS, build_config
from openpose_ros.threed.calibration_io import CameraEntry, load_calibration
from openpose_ros.threed.cameras import CalibrationError, Intrinsics, Rig
from openpose_ros.threed.image_geometry import binned_roi_intrinsics
from openpose_ros.threed.reconstruct import Reconstructor
from openpose_ros.threed.smoothing import OneEuroSmoother
from openpose_ros.threed.sync import StampSynchronizer, SyncConfig, SyncedSet
from openpose_ros.threed.tracking import Tracker3D

__all__ = ["TriangulationNode", "main", "ROOT_JOINTS"]

def _stamp_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _to_time(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class TriangulationNode(Node):
    """Multi-camera 3D poses (parameters: ``triangulation_config.PARAMETERS``).

    Raises ``ValueError`` (bad parameters) or ``CalibrationError`` (unusable calibration) from
    the constructor: without a rig there is nothing to run.
    """

    def __init__(self, node_name: str = "triangulation_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.config = config = build_config(declare_all(self, PARAMETERS))
        calibration = load_calibration(config.calibration_file)
        self.world_frame = config.world_frame or calibration.world_frame
        self.entries: tuple[CameraEntry, ...] = calibration.entries
        self.intrinsics: dict[str, Intrinsics] = {
            e.name: e.intrinsics for e in self.entries if e.intrinsics is not None}
        self._drops = DropLog(self.get_logger(), config.warn_period)
        self.drops, self.problems = self._drops.drops, self._drops.problems
        self.published_sets = 0
        self.sync = StampSynchronizer(SyncConfig(
            len(self.entries), slop_s=config.slop_s, queue_size=config.queue_size,
            min_views=min(config.min_views, len(self.entries)),
            wait_for_stragglers=config.wait_for_stragglers))
        self.tracker = Tracker3D(config.tracking)
        self.smoother = OneEuroSmoother(config.smoothing) if config.smoothing else None
        self._reconstructor: Reconstructor | None = None
        self._rebuild()
        qos = result_qos()
        self.output = People3DPublisher(self, config.output)
        self.tf_static = TfPublisher(self, static=True) if config.publish_camera_tf else None
        self.pose_topics: list[str] = []
        self.info_topics: dict[int, str] = {}
        for index, entry in enumerate(self.entries):
            topic = entry.topic or config.pose_topic_pattern.format(camera=entry.name)
            self.pose_topics.append(topic)
            self.create_subscription(Pose2DArray, topic,
                                     lambda msg, i=index: self._on_poses(i, msg), qos)
            if config.use_camera_info or entry.intrinsics is None:
                info = entry.camera_info_topic or config.camera_info_topic_pattern.format(camera=entry.name)
                self.info_topics[index] = info
                self.create_subscription(CameraInfo, info,
                                         lambda msg, i=index: self._on_camera_info(i, msg), qos)
        self.add_on_set_parameters_callback(
            lambda params: SetParametersResult(successful=False, reason="parameters are read at "
                                               "start-up: restart the node to change them"))
        self._publish_camera_tf()
        missing = [e.name for e in self.entries if e.name not in self.intrinsics]
        self.get_logger().info(
            f"{len(self.entries)} cameras in {self.world_frame}: " + ", ".join(self.pose_topics)
            + (f"; waiting for CameraInfo of {', '.join(missing)}" if missing else ""))

    # -- cameras -----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Reconstructor over the cameras whose intrinsics are known."""
        ready = [e.camera(self.intrinsics[e.name]) for e in self.entries if e.name in self.intrinsics]
        self._reconstructor = Reconstructor(Rig(tuple(ready), self.world_frame),
                                            self.config.reconstruction)

    def _publish_camera_tf(self) -> None:
        if self.tf_static is None:
            return
        stamp = self.get_clock().now().to_msg()
        self.tf_static.send(
            make_transform(self.world_frame, e.name, stamp, -e.R.T @ e.t, quaternion_from_matrix(e.R.T))
            for e in self.entries)

    def _drop(self, reason: str, text: str) -> None:
        """Count a drop and warn, at most once per ``warn_period`` for each reason and source."""
        self._drops.drop(reason, text)

    def _on_camera_info(self, index: int, msg: CameraInfo) -> None:
        entry = self.entries[index]
        try:
            intr = binned_roi_intrinsics(
                Intrinsics.from_camera_info(msg.k, msg.d, msg.distortion_model, msg.width, msg.height),
                msg.binning_x, msg.binning_y,
                (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height))
            entry.camera(intr)  # the full model must be valid too
        except CalibrationError as err:
            kept = "keeping the previous intrinsics" if entry.name in self.intrinsics \
                else "the camera stays unused"
            self._drop("bad_camera_info", f"{self.info_topics[index]}: unusable CameraInfo for "
                                          f"{entry.name}: {err}; {kept}")
            return
        old = self.intrinsics.get(entry.name)
        if old is None or not (np.array_equal(old.K, intr.K) and np.array_equal(old.dist, intr.dist)
                               and old.distortion_model == intr.distortion_model
                               and old.image_size == intr.image_size):
            self.intrinsics[entry.name] = intr
            self._rebuild()
            self.get_logger().info(f"intrinsics of {entry.name} from CameraInfo")

    # -- poses in, 3D out ------------------------------------------------------------------

    def _on_poses(self, index: int, msg: Pose2DArray) -> None:
        try:
            entry = self.entries[index]
            if msg.header.frame_id != entry.name:
                self._drop("unknown_frame", f"{self.pose_topics[index]}: frame_id "
                           f"{msg.header.frame_id!r} is not the calibrated camera {entry.name!r} "
                           f"(calibration has {', '.join(e.name for e in self.entries)})")
                return
            try:
                people = msg_to_people(msg)
            except MessageFormatError as err:
                self._drop("bad_message", f"{self.pose_topics[index]}: {err}")
                return
            for synced in self.sync.add(index, _stamp_ns(msg.header.stamp), people):
                self._process(synced)
        except Exception as err:  # noqa: BLE001 - a callback must never take the node down
            self._drop("error", f"{self.pose_topics[index]}: {type(err).__name__}: {err}")

    def _process(self, synced: SyncedSet) -> None:
        views = {}
        for stream, people in synced.payloads.items():
            name = self.entries[stream].name
            if name not in self.intrinsics:
                self._drop("no_intrinsics", f"{name}: no valid intrinsics yet (waiting for "
                           f"CameraInfo on {self.config.camera_info_topic_pattern.format(camera=name)})")
            else:
                views[name] = people
        result = self._reconstructor.reconstruct(views)
        for note in result.notes.values():  # once per camera and image size
            self.get_logger().warning(note)
        for name, reason in result.skipped.items():
            self._drop("view_skipped", f"{name}: view left out: {reason}")
        if len(result.views_used) < 2:
            self._drop("too_few_views", f"set at {synced.stamp_ns / 1e9:.3f} s: "
                       f"{len(result.views_used)} usable view(s), nothing published")
            return
        index = {e.name: i for i, e in enumerate(self.entries)}
        stamp_ns = int(round(np.mean([synced.stamps_ns[index[n]] for n in result.views_used])))
        update = self.tracker.update(result.people, stamp_ns / 1e9)
        people = update.people
        if self.smoother is not None:
            self.smoother.forget(update.ended)
            people = self.smoother.apply(people, stamp_ns / 1e9)
        header = Header(stamp=_to_time(stamp_ns), frame_id=self.world_frame)
        self.output.publish(people, header, len(result.views_used))
        self.published_sets += 1

    def clear_markers(self) -> None:
        """Remove this node's markers from rviz (on shutdown)."""
        self.output.clear_markers(Header(stamp=self.get_clock().now().to_msg(),
                                         frame_id=self.world_frame))


def main(args: list[str] | None = None) -> int:
    """``ros2 run openpose_ros triangulation_node --ros-args -p calibration_file:=rig.yaml``."""
    return run_node(args, TriangulationNode, "triangulation_node",
                    errors=(ValueError, CalibrationError), on_exit=TriangulationNode.clear_markers)
