"""Publishing 3D people: ``Pose3DArray``, TF ``body_<id>`` (+ joints) and rviz markers.

Shared by every node that produces ``People3D`` (the triangulation node, the RGB-D node), so
they name frames, place roots and draw markers the same way.

TF: ``<tf_prefix>body_<id>`` per tracked person at its MidHip, else Neck, else the centroid of its
joints, axes aligned with the header's frame; with ``joint_tf`` a child
``<tf_prefix>body_<id>/<Joint>`` per reconstructed joint; with ``publish_hand_tf`` a child
``<tf_prefix>body_<id>/left_hand/<Joint>`` (and ``right_hand``) per reconstructed hand joint.
With ``orientation="rep155"`` the body frame follows REP-155 instead (origin at the hip
midpoint, x forward from the torso, z up; see ``openpose_ros.hri.body_frame``), and ``body_id``
formats ``<id>`` (the REP-155 body id).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from openpose_ros.hri.body_frame import hip_midpoint, torso_rotation
from openpose_ros.msg import Pose3DArray
from openpose_ros.ros.convert3d import people3d_to_msg
from openpose_ros.ros.markers import SkeletonMarkers
from openpose_ros.ros.param_table import ParamSpec
from openpose_ros.ros.qos_watch import result_qos
from openpose_ros.ros.tf_publish import TfPublisher, make_transform, quaternion_from_matrix
from openpose_ros.threed.result import People3D
from openpose_ros.threed.smoothing import OneEuroConfig

__all__ = ["OUTPUT_PARAMETERS", "SMOOTHING_PARAMETERS", "People3DOutputConfig",
           "People3DPublisher", "ROOT_JOINTS", "ORIENTATIONS", "body_transforms", "hand_transforms",
           "output_config", "smoothing_config"]

#: Where a person's ``body_<id>`` frame sits: the first of these joints that was reconstructed.
ROOT_JOINTS = ("MidHip", "Neck")
#: ``parent``: the body frame's axes are the header frame's; ``rep155``: REP-155's body axes.
ORIENTATIONS = ("parent", "rep155")


@dataclass(frozen=True)
class People3DOutputConfig:
    """What to publish and where (topics relative to the node's namespace)."""

    output_topic: str = "poses3d"
    publish_tf: bool = True
    publish_joint_tf: bool = True
    publish_hand_tf: bool = False
    tf_prefix: str = ""
    publish_markers: bool = True
    marker_topic: str = "poses3d/markers"
    marker_lifetime: float = 1.0
    joint_diameter: float = 0.05


#: The output rows of the parameter table of every node that publishes 3D people (the
#: triangulation and RGB-D nodes); their names are ``People3DOutputConfig``'s fields.
OUTPUT_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("output_topic", "poses3d", "Pose3DArray topic"),
    ParamSpec("publish_tf", True, "body_<id> frames (and joints) on /tf"),
    ParamSpec("publish_joint_tf", True,
              "one frame per joint, body_<id>/<joint>, child of body_<id>"),
    ParamSpec("publish_hand_tf", False, "one frame per hand joint, body_<id>/left_hand/<joint> "
              "(and right_hand), child of body_<id>"),
    ParamSpec("tf_prefix", "", "prefix of the body frames (e.g. 'mocap/')"),
    ParamSpec("publish_markers", True, "skeleton markers for rviz"),
    ParamSpec("marker_topic", "poses3d/markers", "MarkerArray topic"),
    ParamSpec("marker_lifetime", 1.0,
              "seconds rviz keeps a marker that is not refreshed (0: forever)",
              bounds=(0.0, 3600.0)),
    ParamSpec("joint_diameter", 0.05, "marker sphere size, m", bounds=(0.001, 10.0)),
)


def output_config(values: dict) -> People3DOutputConfig:
    """The output config from a node's declared parameter values (``OUTPUT_PARAMETERS``)."""
    return People3DOutputConfig(**{f.name: values[f.name] for f in fields(People3DOutputConfig)})


#: One-Euro smoothing of tracked 3D people, the same in every 3D node.
SMOOTHING_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("smoothing", False, "One-Euro smoothing of tracked joints"),
    ParamSpec("smoothing_min_cutoff", 1.0, "One-Euro cut-off at rest, Hz", bounds=(0.001, 1000.0)),
    ParamSpec("smoothing_beta", 0.7, "One-Euro speed coefficient, s/m", bounds=(0.0, 1000.0)),
    ParamSpec("smoothing_d_cutoff", 1.0, "One-Euro cut-off of the speed estimate, Hz",
              bounds=(0.001, 1000.0)),
)


def smoothing_config(values: dict) -> OneEuroConfig | None:
    """The One-Euro settings from declared values (``SMOOTHING_PARAMETERS``); None when off."""
    if not values["smoothing"]:
        return None
    return OneEuroConfig(min_cutoff_hz=values["smoothing_min_cutoff"],
                         beta=values["smoothing_beta"], d_cutoff_hz=values["smoothing_d_cutoff"])


def body_transforms(people: People3D, header: Header, *, tf_prefix: str = "",
                    joint_tf: bool = True, orientation: str = "parent",
                    body_id: Callable[[int], str] = str) -> list:
    """``TransformStamped`` list: a root frame per tracked person and, optionally, its joints.

    ``orientation="rep155"``: the root sits at the hip midpoint (else as for ``parent``) and is
    rotated to the torso (x forward, z up); when the torso is not reconstructed its axes stay
    the parent's. Joint frames are then expressed in the rotated root frame.
    ``body_id(track_id)`` gives the ``<id>`` of ``body_<id>``.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(
            f"orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}")
    layout = people.layout
    names = layout.part_names
    roots = [layout.index(n) for n in ROOT_JOINTS if layout.has(n)]
    valid = people.valid
    out = []
    for p in range(len(people)):
        if people.track_ids[p] < 0 or not valid[p].any():
            continue
        body = people.body[p].astype(np.float64)
        root = _root(body, valid[p], roots)
        R = None
        if orientation == "rep155":
            hip = hip_midpoint(body, valid[p], layout)
            root = hip if hip is not None else root
            R = torso_rotation(body, valid[p], layout)
        frame = f"{tf_prefix}body_{body_id(int(people.track_ids[p]))}"
        if R is None:
            out.append(make_transform(header.frame_id, frame, header.stamp, root))
            R = np.eye(3)
        else:
            out.append(make_transform(header.frame_id, frame, header.stamp, root,
                                      quaternion_from_matrix(R)))
        if joint_tf:
            out += [make_transform(frame, f"{frame}/{names[j]}", header.stamp,
                                   R.T @ (body[j] - root))
                    for j in np.flatnonzero(valid[p])]
    return out


def _root(body: np.ndarray, valid: np.ndarray, roots: list[int]) -> np.ndarray:
    """``[3]`` where a person's ``body_<id>`` frame sits: the first valid root joint, else the
    centroid of its valid joints (``body [J, 3]``, ``valid [J]``)."""
    root_at = next((r for r in roots if valid[r]), None)
    return body[root_at] if root_at is not None else body[valid].mean(axis=0)


def hand_transforms(people: People3D, header: Header, *, tf_prefix: str = "") -> list:
    """``TransformStamped`` list: ``body_<id>/<left|right>_hand/<Joint>`` per reconstructed hand
    joint, a child of ``body_<id>`` (empty when the hands are off)."""
    hands = [(name, part) for name, part in people.parts().items() if name != "face"]
    if not hands:
        return []
    roots = [people.layout.index(n) for n in ROOT_JOINTS if people.layout.has(n)]
    valid = people.valid
    out = []
    for p in np.flatnonzero((people.track_ids >= 0) & valid.any(axis=1)):
        root = _root(people.body[p].astype(np.float64), valid[p], roots)
        frame = f"{tf_prefix}body_{int(people.track_ids[p])}"
        for name, hand in hands:
            joints, names = hand.body[p].astype(np.float64), hand.layout.part_names
            out += [make_transform(frame, f"{frame}/{name}/{names[j]}", header.stamp, joints[j] - root)
                    for j in np.flatnonzero(hand.valid[p])]
    return out


class People3DPublisher:
    """The publishers of one node's 3D people; ``publish`` sends one set of them."""

    def __init__(self, node: Node, config: People3DOutputConfig) -> None:
        self.config = config
        qos = result_qos()
        self.pose_pub = node.create_publisher(Pose3DArray, config.output_topic, qos)
        self.marker_pub = node.create_publisher(MarkerArray, config.marker_topic, qos) \
            if config.publish_markers else None
        self.markers = SkeletonMarkers(joint_diameter=config.joint_diameter,
                                       lifetime_s=config.marker_lifetime)
        self.tf = TfPublisher(node) if config.publish_tf else None

    def publish(self, people: People3D, header: Header, num_views: int) -> None:
        """``people`` in ``header.frame_id`` at ``header.stamp``: poses, TF and markers."""
        self.pose_pub.publish(people3d_to_msg(people, header, num_views))
        if self.tf is not None:
            self.tf.send(body_transforms(people, header, tf_prefix=self.config.tf_prefix,
                                         joint_tf=self.config.publish_joint_tf))
            if self.config.publish_hand_tf:
                self.tf.send(hand_transforms(people, header, tf_prefix=self.config.tf_prefix))
        if self.marker_pub is not None:
            self.marker_pub.publish(self.markers.update(people, header))

    def clear_markers(self, header: Header) -> None:
        """Remove this publisher's markers from rviz (on shutdown)."""
        if self.marker_pub is not None:
            self.marker_pub.publish(self.markers.clear(header))
