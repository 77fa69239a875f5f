"""One RGB-D camera -> 3D people, ROS-free.

Data flow (one colour frame's people paired with one depth image)::

    People (2D, colour pixels) + depth (float32 metres, ``depth_codec``)
        --estimator.RgbdEstimator (rays with distortion, robust windowed depth, body consistency,
          limb-radius offset)--> People3D (metres, colour optical frame)
        --identity.RgbdIdentity (2D ids, else 3D tracking; optional One-Euro)--> tracked People3D
"""

from openpose_ros.rgbd.depth_window import (WindowClusters, WindowConfig, select_depths,
                                            single_pixel_depths, window_clusters, window_depths)
from openpose_ros.rgbd.estimator import (
    LIMB_RADIUS_M,
    METHODS,
    DepthGeometry,
    RgbdConfig,
    RgbdEstimate,
    RgbdEstimator,
    RgbdInputError,
)
from openpose_ros.rgbd.identity import RgbdIdentity

__all__ = [
    "WindowClusters",
    "WindowConfig",
    "select_depths",
    "window_clusters",
    "single_pixel_depths",
    "window_depths",
    "LIMB_RADIUS_M",
    "METHODS",
    "DepthGeometry",
    "RgbdConfig",
    "RgbdEstimate",
    "RgbdEstimator",
    "RgbdInputError",
    "RgbdIdentity",
]
