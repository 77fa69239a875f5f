"""QoS of the pose node's topics, and the warning when a camera's publisher cannot match."""

from __future__ import annotations

from typing import Callable

from rclpy.event_handler import (QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks,
                                 qos_policy_name_from_kind)
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

__all__ = ["image_qos", "result_qos", "incompatible_qos_callbacks"]


def image_qos(reliability: str, depth: int) -> QoSProfile:
    """Sensor-data QoS (volatile, keep last ``depth``) with ``reliability`` chosen.

    Best effort (the default) matches every camera publisher; reliable matches only reliable
    publishers, but does not lose fragments of large images on a busy network.
    """
    profile = QoSProfile(depth=depth, history=qos_profile_sensor_data.history,
                         durability=qos_profile_sensor_data.durability,
                         reliability=qos_profile_sensor_data.reliability)
    if reliability == "reliable":
        profile.reliability = ReliabilityPolicy.RELIABLE
    return profile


def result_qos(depth: int = 10) -> QoSProfile:
    """Results are published reliably: both reliable and best-effort subscribers match."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


def incompatible_qos_callbacks(node: Node, topic: str, *,
                               on_event: Callable[[str], None]) -> SubscriptionEventCallbacks:
    """Event callbacks that log a clear warning (and call ``on_event(policy_name)``) when a
    publisher on ``topic`` offers QoS this subscription cannot accept."""

    def incompatible(info: QoSRequestedIncompatibleQoSInfo) -> None:
        policy = qos_policy_name_from_kind(info.last_policy_kind)
        node.get_logger().warning(
            f"{topic}: a publisher's QoS is incompatible with this subscription ({policy}); "
            "no images will arrive from it. For RELIABILITY: the camera publishes best effort "
            "while parameter reliability is 'reliable' - set reliability:=best_effort.")
        on_event(policy)

    return SubscriptionEventCallbacks(incompatible_qos=incompatible)
