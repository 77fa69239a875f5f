"""`pip install .` installs the ROS-free core library (networks, decoding, triangulation).

The ROS package (messages, nodes, launch files) is built with colcon from CMakeLists.txt.
"""

from setuptools import find_packages, setup

setup(
    name="openpose_ros",
    version="0.1.0",
    description="OpenPose networks, decoding and multi-view triangulation, with ROS 2 nodes",
    license="Apache-2.0",
    packages=find_packages(include=["openpose_ros", "openpose_ros.*"]),
    python_requires=">=3.10",
    install_requires=["numpy>=1.26", "scipy>=1.13", "opencv-python-headless>=4.8,<5", "torch>=2.2",
                      "pyyaml>=6"],
    extras_require={"safetensors": ["safetensors>=0.4"], "openvino": ["openvino>=2024.0"]},
    entry_points={"console_scripts": [
        "openpose-ros-models=openpose_ros.nets.registry:main",
        "openpose-ros=openpose_ros.cli:main",
        "openpose-ros-3d=openpose_ros.cli3d:main",
    ]},
)
