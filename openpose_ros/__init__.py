"""openpose_ros: OpenPose for ROS 2.

The ROS-free core (layouts, networks, decoding, hands and faces, triangulation, rendering) never
imports rclpy; ``openpose_ros.ros`` holds the thin node adapters.
"""

__version__ = "0.1.0"
