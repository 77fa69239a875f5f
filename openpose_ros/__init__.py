"""openpose_ros: OpenPose for ROS 2.

The ROS-free core (layouts, networks, decoding, hands and faces, triangulation, rendering) never
imports rclpy; ``openpose_ros.ros`` holds the thin node adapters.
"""

import os
from pkgutil import extend_path

# PyTorch's OpenMP workers spin while they wait for work ("ACTIVE"). When another process
# holds a core (a robot runs more than us), a spinning worker steals it from the thread doing
# real work: measured here under load (load average 8-11 on 2 cores), the lightweight network's
# torch forward took 6.5-10.3 s per frame and 2.2-2.4 CPU-s with the default policy, against
# 0.7-2.1 s and 0.27-0.39 CPU-s with PASSIVE. libgomp reads this once, when torch is first
# imported, so it is set here, before any of our modules imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The generated message modules (openpose_ros.msg) are installed by the rosidl build into the
# install prefix's site-packages, while developers run the Python package from the source tree:
# let one package span both directories.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
