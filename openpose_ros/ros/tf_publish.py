"""TF without tf2_ros: ``tf2_msgs/TFMessage`` on ``/tf`` and ``/tf_static``, as the broadcasters do.

``/tf``: QoS depth 100, reliable, volatile (tf2_ros ``DynamicBroadcasterQoS``).
``/tf_static``: depth 1, reliable, transient local (``StaticBroadcasterQoS``); like
``StaticTransformBroadcaster`` every send republishes all static transforms given so far (keyed by
child frame), because late joiners only receive the last message.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

__all__ = ["TfPublisher", "tf_qos", "tf_static_qos", "make_transform", "quaternion_from_matrix"]


def tf_qos() -> QoSProfile:
    """QoS of ``/tf`` (tf2_ros DynamicBroadcasterQoS)."""
    return QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def tf_static_qos() -> QoSProfile:
    """QoS of ``/tf_static`` (tf2_ros StaticBroadcasterQoS)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def quaternion_from_matrix(R: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) unit quaternion of a 3x3 rotation matrix (Shepperd's method, w >= 0)."""
    R = np.asarray(R, dtype=np.float64)
    trace = np.trace(R)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, s / 4])
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + R[i, i] - R[j, j] - R[k, k])
        q = np.empty(4)
        q[i] = s / 4
        q[j] = (R[j, i] + R[i, j]) / s
        q[k] = (R[k, i] + R[i, k]) / s
        q[3] = (R[k, j] - R[j, k]) / s
    q /= np.linalg.norm(q)
    return tuple(float(v) for v in (q if q[3] >= 0 else -q))


def make_transform(parent: str, child: str, stamp: Time, translation: Sequence[float],
                   rotation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> TransformStamped:
    """A ``TransformStamped`` placing ``child`` in ``parent`` (metres, quaternion x, y, z, w)."""
    t = TransformStamped()
    t.header.stamp = stamp
    t.header.frame_id = parent
    t.child_frame_id = child
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
        float(v) for v in translation)
    (t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z,
     t.transform.rotation.w) = (float(v) for v in rotation)
    return t


class TfPublisher:
    """Publishes transforms on ``/tf`` (``static=False``) or ``/tf_static`` (``static=True``).

    Args:
        node: the node that owns the publisher.
        static: latch transforms on ``/tf_static`` instead of streaming them on ``/tf``.
    """

    def __init__(self, node: Node, *, static: bool = False) -> None:
        self.static = static
        self._pub = node.create_publisher(
            TFMessage, "/tf_static" if static else "/tf", tf_static_qos() if static else tf_qos())
        self._static: dict[str, TransformStamped] = {}

    @property
    def publisher(self):
        return self._pub

    def send(self, transforms: Iterable[TransformStamped]) -> None:
        """Publish ``transforms`` (static: together with every static transform sent before)."""
        transforms = list(transforms)
        if self.static:
            self._static.update((t.child_frame_id, t) for t in transforms)
            transforms = list(self._static.values())
        if transforms:
            self._pub.publish(TFMessage(transforms=transforms))
