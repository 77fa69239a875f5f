"""openpose_ros: OpenPose for ROS 2.

The ROS-free core (layouts, networks, decoding, hands and faces, triangulation, rendering) never
imports rclpy; ``openpose_ros.ros`` holds the thin node adapters.
"""

from pkgutil import extend_path

# The generated message modules (openpose_ros.msg) are installed by the rosidl build into the
# install prefix's site-packages, while developers run the Python package from the source tree:
# let one package span both directories.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
