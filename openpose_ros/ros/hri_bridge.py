"""The HRI bridge: our ``Pose2DArray`` (and optionally ``Pose3DArray``) -> ROS4HRI (REP-155).

A thin adapter around ``openpose_ros.hri``. Per tracked person of each input (track id >= 0;
people with -1 are counted, not published) it publishes

- ``/humans/bodies/tracked`` (``hri_msgs/IdsList``): the ids seen now, on every input message
  (also when empty) and when an input falls silent for ``camera_timeout``;
- ``/humans/bodies/<id>/skeleton2d`` (``Skeleton2D``: 18 points mapped by joint name) and
  ``/humans/bodies/<id>/roi`` (``NormalizedRegionOfInterest2D``), normalised to [0, 1];
- with ``faces`` and face keypoints present: ``/humans/faces/tracked``,
  ``/humans/faces/<id>/roi`` and ``/humans/faces/<id>/landmarks`` (``FacialLandmarks``); the face
  of body ``<id>`` has the same id;
- with ``pose3d_topic``: TF ``body_<id>`` per tracked 3D person (REP-155 axes: origin at the hip
  midpoint, x forward from the torso, z up), parent = the 3D message's frame.

Ids are ``<prefix>_<track id>`` (``openpose_ros.hri.ids``). 3D people take
``pose3d_id_prefix``: set it to a 2D input's prefix when the 3D source keeps that camera's track
ids (an RGB-D source), and ``body_<id>`` then names the same person as ``/humans/bodies/<id>``;
the triangulation node tracks in 3D with ids of its own, so its people are bodies of their own
(TF only) under a prefix of their own (default ``w``), and its own ``body_<n>`` frames do not
match the bridge's ids.

Per-id publishers are created when an id first appears and destroyed ``id_timeout`` after it was
last seen (at most ``max_ids`` held). Bad input never stops the node: an unknown layout, an
empty image size, a malformed message, NaN keypoints, a person without a valid joint - each is
counted in ``drops`` and logged (throttled per reason and input); the rest of the frame goes on.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from hri_msgs.msg import FacialLandmarks, IdsList, NormalizedRegionOfInterest2D, Skeleton2D
from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Header

from openpose_ros.hri.ids import IdLifetimes, body_id
from openpose_ros.hri.skeleton import face_landmarks, regions_of_interest, skeleton_2d, valid_mask
from openpose_ros.layouts import BODY_LAYOUTS
from openpose_ros.msg import Pose2DArray, Pose3DArray
from openpose_ros.ros.convert import MessageFormatError, msg_to_people
from openpose_ros.ros.drop_log import DropLog
from openpose_ros.ros.diagnostics import diagnostic_array
from openpose_ros.ros.hri_config import PARAMETERS, build_config
from openpose_ros.ros.hri_messages import Rep155Messages, ids_msg, roi_msg
from openpose_ros.ros.param_table import declare_all
from openpose_ros.ros.qos_watch import result_qos
from openpose_ros.ros.session import run_node
from openpose_ros.ros.tf_publish import TfPublisher

__all__ = ["HriBridge", "main", "DROP_REASONS", "BODIES", "FACES"]

BODIES, FACES = "/humans/bodies", "/humans/faces"
DROP_REASONS = ("unknown_layout", "empty_image_size", "bad_message", "nan_keypoints",
                "no_valid_joints", "duplicate_track_id", "error")
_KNOWN_LAYOUTS = {lay.msg_id: lay.name for lay in BODY_LAYOUTS.values()}


class _Input:
    """What one input (a camera's poses, or the 3D source) shows now."""

    def __init__(self, topic: str, prefix: str) -> None:
        self.topic, self.prefix = topic, prefix
        self.bodies: list[str] = []
        self.faces: list[str] = []
        self.last_arrival = -np.inf
        self.received = 0


class HriBridge(Node):
    """REP-155 output from our pose messages (parameters: ``hri_config.PARAMETERS``).

    Raises ``ValueError`` (bad parameters) from the constructor.
    """

    def __init__(self, node_name: str = "hri_bridge", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.config = c = build_config(declare_all(self, PARAMETERS))
        self._drops = DropLog(self.get_logger(), c.warn_period)
        self.drops, self.problems = self._drops.drops, self._drops.problems
        self.untracked_people = 0
        self.published_frames = 0
        self._window_drops: Counter[str] = Counter()
        qos = result_qos()
        self._qos = qos
        self.inputs = [_Input(t, p) for t, p in zip(c.pose_topics, c.id_prefixes)]
        for index, topic in enumerate(c.pose_topics):
            self.create_subscription(Pose2DArray, topic,
                                     lambda msg, i=index: self._on_poses(i, msg), qos)
        self.input3d: _Input | None = None
        self.tf: TfPublisher | None = None
        if c.pose3d_topic:
            # The 3D modules pull in the whole reconstruction stack: only when 3D is asked for.
            from openpose_ros.ros.convert3d import msg_to_people3d
            from openpose_ros.ros.people3d_output import body_transforms

            self._msg_to_people3d, self._body_transforms = msg_to_people3d, body_transforms
            self.input3d = _Input(c.pose3d_topic, c.pose3d_id_prefix)
            if not c.pose3d_shares_ids:
                self.inputs.append(self.input3d)  # its people are bodies of their own
            self.create_subscription(Pose3DArray, c.pose3d_topic, self._on_poses3d, qos)
            self.tf = TfPublisher(self) if c.publish_tf else None
        self.bodies_tracked = self.create_publisher(IdsList, f"{BODIES}/tracked", qos)
        self.faces_tracked = self.create_publisher(IdsList, f"{FACES}/tracked", qos) \
            if c.faces else None
        self.body_life = IdLifetimes(c.id_timeout, c.max_ids)
        self.face_life = IdLifetimes(c.id_timeout, c.max_ids)
        self.body_pubs: dict[str, tuple] = {}  # id -> (skeleton2d, roi)
        self.face_pubs: dict[str, tuple] = {}  # id -> (roi, landmarks)
        self._last_header = Header()
        self._messages = Rep155Messages()
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(c.diagnostics_period, self._publish_diagnostics)
        self.create_timer(min(0.25, max(0.02, min(c.id_timeout, c.camera_timeout) / 4)),
                          self._housekeeping)
        self.add_on_set_parameters_callback(
            lambda params: SetParametersResult(successful=False, reason="parameters are read at "
                                               "start-up: restart the node to change them"))
        self.get_logger().info(
            "REP-155 bridge: " + ", ".join(f"{i.topic} -> {i.prefix}_<track id>"
                                           for i in self.inputs[:len(c.pose_topics)])
            + (f"; 3D {c.pose3d_topic} -> body_{c.pose3d_id_prefix}_<track id>"
               if c.pose3d_topic else ""))

    # -- bad input -------------------------------------------------------------------------

    def _drop(self, reason: str, topic: str, text: str, count: int = 1) -> None:
        """Count a drop and warn, at most once per ``warn_period`` for each reason and input."""
        self._window_drops[reason] += count
        self._drops.drop(reason, f"{topic}: {text}", source=topic, count=count)
        self.problems[reason] = text

    def _warn(self, key: str, topic: str, text: str) -> None:
        """Log ``text`` unless the same ``key`` was logged for ``topic`` within ``warn_period``."""
        self._drops.warn(key, topic, f"{topic}: {text}")

    def _people(self, topic: str, msg: Pose2DArray):
        """``People`` of ``msg``, or None (counted) when it cannot be read."""
        if msg.layout not in _KNOWN_LAYOUTS:
            self._drop("unknown_layout", topic, f"layout {msg.layout} is not one the bridge "
                       f"knows ({', '.join(f'{k} {n}' for k, n in _KNOWN_LAYOUTS.items())})")
        elif msg.image_width == 0 or msg.image_height == 0:
            self._drop("empty_image_size", topic, f"image size {msg.image_width}x"
                       f"{msg.image_height}: keypoints cannot be normalised")
        else:
            try:
                return msg_to_people(msg)
            except MessageFormatError as err:
                self._drop("bad_message", topic, str(err))
        return None

    # -- 2D in, REP-155 out ---------------------------------------------------------------

    def _on_poses(self, index: int, msg: Pose2DArray) -> None:
        source = self.inputs[index]
        try:
            people = self._people(source.topic, msg)
            if people is not None:
                self._publish_frame(source, people, msg.header)
        except Exception as err:  # noqa: BLE001 - a callback must never take the node down
            self._drop("error", source.topic, f"{type(err).__name__}: {err}")

    def _select(self, source: _Input, people) -> list[tuple[int, str]]:
        """(person index, id) of the people to publish; counts the ones left out."""
        c = self.config
        body = people.body
        nan = int((~np.isfinite(body[..., :2]).all(axis=-1) & ~(body[..., 2] <= 0)).sum())
        if nan:
            self._drop("nan_keypoints", source.topic,
                       f"{nan} keypoints with a score but NaN/inf coordinates (sent as missing)",
                       nan)
        untracked = int((people.track_ids < 0).sum())
        if untracked:
            self.untracked_people += untracked
            self._warn("untracked", source.topic, f"{untracked} people without a track id are "
                       "not published (is tracking on in the pose node?)")
        has_joint = valid_mask(body, c.min_score).any(axis=-1)
        chosen, seen = [], set()
        for p, track in enumerate(people.track_ids.tolist()):
            if track < 0:
                continue
            if not has_joint[p]:
                self._drop("no_valid_joints", source.topic, f"track {track}: no valid joint")
                continue
            if track in seen:
                self._drop("duplicate_track_id", source.topic, f"track {track} twice in a frame")
                continue
            seen.add(track)
            chosen.append((p, body_id(source.prefix, track)))
        return chosen

    def _publish_frame(self, source: _Input, people, header: Header) -> None:
        c = self.config
        chosen = self._select(source, people)
        rows = [p for p, _ in chosen]
        ids = [i for _, i in chosen]
        size = people.image_size
        skeletons = skeleton_2d(people.body[rows], people.layout, size, min_score=c.min_score)
        boxes, _ = regions_of_interest(people.body[rows], size, min_score=c.min_score,
                                       padding=c.roi_padding)
        now = time.monotonic()
        source.received += 1
        source.last_arrival = now
        source.bodies = ids
        self._hold(self.body_life, self.body_pubs, ids, now, self._create_body)
        for k, ident in enumerate(ids):
            skeleton_pub, roi_pub = self.body_pubs[ident]
            skeleton_pub.publish(self._messages.skeleton(header, skeletons[k]))
            roi_pub.publish(roi_msg(header, boxes[k]))
        if self.faces_tracked is not None:
            self._publish_faces(source, people, rows, ids, header, now)
        self._last_header = header
        self._publish_tracked(header)
        self.published_frames += 1

    def _publish_faces(self, source: _Input, people, rows, ids, header: Header, now: float) -> None:
        c = self.config
        face_ids: list[str] = []
        if people.face.shape[1] and rows:
            face = people.face[rows]
            enough = valid_mask(face, c.min_score).sum(axis=-1) >= c.min_face_landmarks
            face_ids = [i for i, ok in zip(ids, enough) if ok]
            landmarks = face_landmarks(face[enough], people.image_size, min_score=c.min_score)
            boxes, _ = regions_of_interest(face[enough], people.image_size, min_score=c.min_score)
        source.faces = face_ids
        self._hold(self.face_life, self.face_pubs, face_ids, now, self._create_face)
        for k, ident in enumerate(face_ids):
            roi_pub, landmarks_pub = self.face_pubs[ident]
            roi_pub.publish(roi_msg(header, boxes[k]))
            landmarks_pub.publish(self._messages.landmarks(header, landmarks[k], people.image_size))

    # -- 3D in, TF out ---------------------------------------------------------------------

    def _on_poses3d(self, msg: Pose3DArray) -> None:
        source = self.input3d
        try:
            if msg.layout not in _KNOWN_LAYOUTS:
                self._drop("unknown_layout", source.topic, f"layout {msg.layout} is unknown")
                return
            try:
                people = self._msg_to_people3d(msg)
            except MessageFormatError as err:
                self._drop("bad_message", source.topic, str(err))
                return
            tracked = (people.track_ids >= 0) & people.valid.any(axis=-1)
            self.untracked_people += int((people.track_ids < 0).sum())
            ids = list(dict.fromkeys(body_id(source.prefix, t)
                                     for t in people.track_ids[tracked].tolist()))
            source.received += 1
            source.last_arrival = time.monotonic()
            if self.tf is not None:
                self.tf.send(self._body_transforms(
                    people, msg.header, joint_tf=False, orientation="rep155",
                    body_id=lambda t: body_id(source.prefix, t)))
            if not self.config.pose3d_shares_ids:
                source.bodies = ids  # TF only: no per-id publishers
                self._hold(self.body_life, self.body_pubs, ids, source.last_arrival, lambda i: ())
                self._last_header = msg.header
                self._publish_tracked(msg.header)
        except Exception as err:  # noqa: BLE001
            self._drop("error", source.topic, f"{type(err).__name__}: {err}")

    # -- per-id publishers and tracked lists -----------------------------------------------

    def _create_body(self, ident: str) -> tuple:
        return (self.create_publisher(Skeleton2D, f"{BODIES}/{ident}/skeleton2d", self._qos),
                self.create_publisher(NormalizedRegionOfInterest2D, f"{BODIES}/{ident}/roi",
                                      self._qos))

    def _create_face(self, ident: str) -> tuple:
        return (self.create_publisher(NormalizedRegionOfInterest2D, f"{FACES}/{ident}/roi",
                                      self._qos),
                self.create_publisher(FacialLandmarks, f"{FACES}/{ident}/landmarks", self._qos))

    def _hold(self, life: IdLifetimes, pubs: dict, ids: list[str], now: float, create) -> None:
        new, released = life.seen(ids, now)
        self._release(pubs, released)
        for ident in new:
            if ident not in pubs:
                pubs[ident] = create(ident)

    def _release(self, pubs: dict, released: list[str]) -> None:
        for ident in released:
            for pub in pubs.pop(ident, ()):
                self.destroy_publisher(pub)

    def _current(self, kind: str, life: IdLifetimes) -> list[str]:
        now = time.monotonic()
        fresh = [s for s in self.inputs if now - s.last_arrival <= self.config.camera_timeout]
        return [i for s in fresh for i in getattr(s, kind) if i in life]

    def _publish_tracked(self, header: Header) -> None:
        self.bodies_tracked.publish(ids_msg(header, self._current("bodies", self.body_life)))
        if self.faces_tracked is not None:
            self.faces_tracked.publish(ids_msg(header, self._current("faces", self.face_life)))

    def _housekeeping(self) -> None:
        """Release ids past ``id_timeout``; empty ``tracked`` of inputs that fell silent."""
        try:
            now = time.monotonic()
            self._release(self.body_pubs, self.body_life.expire(now))
            self._release(self.face_pubs, self.face_life.expire(now))
            stale = [s for s in self.inputs if (s.bodies or s.faces)
                     and now - s.last_arrival > self.config.camera_timeout]
            for source in stale:
                source.bodies, source.faces = [], []
            if stale:
                header = Header(stamp=self.get_clock().now().to_msg(),
                                frame_id=self._last_header.frame_id)
                self._publish_tracked(header)
        except Exception as err:  # noqa: BLE001
            self.get_logger().error(f"housekeeping: {err}", throttle_duration_sec=10.0)

    # -- diagnostics -----------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        try:
            window, self._window_drops = self._window_drops, Counter()
            values = [KeyValue(key=f"received {s.topic}", value=str(s.received))
                      for s in self.inputs + ([self.input3d] if self.input3d
                                              and self.input3d not in self.inputs else [])]
            values += [KeyValue(key=k, value=str(v)) for k, v in (
                ("published_frames", self.published_frames),
                ("bodies_tracked", len(self._current("bodies", self.body_life))),
                ("body_ids_held", len(self.body_pubs)), ("face_ids_held", len(self.face_pubs)),
                ("untracked_people", self.untracked_people))]
            values += [KeyValue(key=f"dropped_{r}", value=str(self.drops[r])) for r in DROP_REASONS]
            faults = ", ".join(f"{n} {r}" for r, n in window.items())
            status = DiagnosticStatus(
                level=DiagnosticStatus.WARN if faults else DiagnosticStatus.OK,
                name=f"{self.get_name()}: REP-155 bridge", hardware_id=self.get_name(),
                message=f"dropped {faults}" if faults else
                f"{len(self.body_pubs)} bodies, {len(self.face_pubs)} faces held", values=values)
            self._diagnostics_pub.publish(
                diagnostic_array(self.get_clock().now().to_msg(), [status]))
        except Exception as err:  # noqa: BLE001
            self.get_logger().error(f"diagnostics: {err}", throttle_duration_sec=10.0)

    def shutdown(self) -> None:
        """Empty the tracked lists (listeners drop their per-id objects) and the publishers."""
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._last_header.frame_id)
        for source in self.inputs:
            source.bodies, source.faces = [], []
        self._publish_tracked(header)
        for pub in (self.bodies_tracked, self.faces_tracked):
            if pub is not None:
                pub.wait_for_all_acked(Duration(seconds=1.0))
        self._release(self.body_pubs, self.body_life.release_all())
        self._release(self.face_pubs, self.face_life.release_all())


def main(args: list[str] | None = None) -> int:
    """``ros2 run openpose_ros hri_bridge --ros-args -p pose_topics:="[/cam0/poses]"``."""
    # Ctrl-C reaches the spin as KeyboardInterrupt with the context still up, so the bridge can
    # tell listeners that its bodies are gone before it exits.
    return run_node(args, HriBridge, "hri_bridge", on_exit=HriBridge.shutdown,
                    signal_handler_options=SignalHandlerOptions.NO)
