"""The RGB-D node's parameters: one table the node declares from, and the typed config built
from the declared values (parameters -> ``RgbdNodeConfig`` -> the ROS-free core ``openpose_ros.rgbd``).

All parameters are read at start-up; changing them needs a restart (the node refuses updates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openpose_ros.rgbd.depth_window import WindowConfig
from openpose_ros.rgbd.estimator import METHODS, RgbdConfig
from openpose_ros.ros.people3d_output import (OUTPUT_PARAMETERS, SMOOTHING_PARAMETERS,
                                              People3DOutputConfig, output_config,
                                              smoothing_config)
from openpose_ros.ros.param_table import RELIABILITIES, ParamSpec
from openpose_ros.threed.smoothing import OneEuroConfig
from openpose_ros.threed.tracking import TrackingConfig

__all__ = ["PARAMETERS", "PARAMETER_NAMES", "RgbdNodeConfig", "build_config", "extrinsic_matrix"]

_T = ParamSpec
PARAMETERS: tuple[ParamSpec, ...] = (
    # -- inputs
    _T("poses_topic", "/camera/rgb/poses", "Pose2DArray of the colour camera (the pose node's output, "
       "stamped with the colour image's header)"),
    _T("depth_topic", "/camera/depth_registered/image_raw", "depth image: sensor_msgs/Image "
       "(16UC1 mm, 32FC1 m) or, with depth_compressed (or a topic ending in /compressedDepth), "
       "sensor_msgs/CompressedImage in the compressedDepth format"),
    _T("depth_compressed", False, "read depth_topic as CompressedImage (compressedDepth png)"),
    _T("camera_info_topic", "/camera/rgb/camera_info", "CameraInfo of the colour camera "
       "(registered depth shares it)"),
    _T("registered", True, "the depth image is registered to the colour image (same size and "
       "pixels; RealSense aligned_depth_to_color, OpenNI depth_registered)"),
    _T("depth_camera_info_topic", "", "unregistered depth: the depth camera's own CameraInfo"),
    _T("depth_to_color", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "unregistered depth: pose of the "
       "depth optical frame in the colour optical frame, x y z (m) qx qy qz qw "
       "(X_color = R X_depth + t)"),
    _T("frame_id", "", "frame of the 3D output; empty: the Pose2DArray's (the colour optical frame)"),
    _T("reliability", "best_effort", "QoS of the depth subscription: best_effort (sensor data) "
       "or reliable", choices=RELIABILITIES),
    # -- pairing poses with depth
    _T("slop", 0.02, "largest stamp difference between poses and their depth image, s",
       bounds=(0.0, 10.0)),
    _T("queue_size", 30, "depth images (and poses) held while waiting for their pair; cover the "
       "pose node's latency", bounds=(1, 1000)),
    # -- depth per joint
    _T("method", "window", "window: robust foreground depth, limb offset, body check; "
       "single_pixel: the pixel under the keypoint (for comparison)", choices=METHODS),
    _T("min_score", 0.05, "2D keypoints at or below this confidence are ignored", bounds=(0.0, 1.0)),
    _T("window_fraction", 0.025, "depth window half-size, share of the person's 2D extent",
       bounds=(0.0, 1.0)),
    _T("max_window_px", 40.0, "largest depth window half-size, px", bounds=(1.0, 1000.0)),
    _T("max_behind", 0.3, "joints farther than this behind their body's median depth are "
       "dropped (the wall behind a silhouette) unless their bones reach there from a placed "
       "parent (with bone_check), m", bounds=(0.01, 100.0)),
    _T("max_front", 0.8, "joints nearer than this in front of their body's median depth are "
       "dropped (an occluder), m", bounds=(0.01, 100.0)),
    _T("limb_offset", True, "move each joint behind the visible surface by its limb radius"),
    _T("bone_check", True, "keep each joint within its bones' reach of its nearest placed "
       "parent joint (out from the torso)"),
    _T("limb_prior", True, "prefer, in a joint's window, the depth of its own limb read along "
       "the 2D bone from its parent (a keypoint just off its limb sees the background)"),
    _T("centre_on_surface", True, "move each keypoint to the centre of its chosen surface in "
       "the window (onto its limb when it fell just off it)"),
    _T("min_joints", 1, "fewest 3D body joints for a person to be published", bounds=(1, 1000)),
    # -- identity over time
    _T("track_3d", True, "number people by 3D tracking when the 2D people carry no track ids"),
    _T("track_max_distance", 0.5, "farthest 3D match between frames, m", bounds=(0.01, 100.0)),
    _T("track_max_age", 1.0, "seconds an unseen person keeps its id", bounds=(0.0, 3600.0)),
    *SMOOTHING_PARAMETERS,
    # -- outputs
    *OUTPUT_PARAMETERS,
    _T("warn_period", 5.0, "seconds between repeats of the same warning", bounds=(0.0, 3600.0)),
)
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)


@dataclass(frozen=True)
class RgbdNodeConfig:
    """Everything the node needs, typed; ``estimator``, ``tracking`` and ``smoothing`` go to the
    core unchanged."""

    poses_topic: str
    depth_topic: str
    depth_compressed: bool
    camera_info_topic: str
    registered: bool
    depth_camera_info_topic: str
    depth_to_color: np.ndarray  # [4, 4] colour-from-depth
    frame_id: str
    reliability: str
    slop_s: float
    queue_size: int
    estimator: RgbdConfig
    track_3d: bool
    tracking: TrackingConfig
    smoothing: OneEuroConfig | None
    output: People3DOutputConfig
    warn_period: float


def extrinsic_matrix(values) -> np.ndarray:
    """``[4, 4]`` transform from ``x y z qx qy qz qw`` (the quaternion is normalised)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size != 7 or not np.isfinite(v).all():
        raise ValueError(f"depth_to_color must be 7 finite numbers x y z qx qy qz qw, got {list(v)}")
    x, y, z, w = v[3:] / (np.linalg.norm(v[3:]) or np.nan)
    if not np.isfinite(w):
        raise ValueError("depth_to_color: the quaternion is zero")
    T = np.eye(4)
    T[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    T[:3, 3] = v[:3]
    return T


def build_config(values: dict) -> RgbdNodeConfig:
    """The typed config from parameter values; ``ValueError`` says which value is wrong."""
    v = values
    for name in ("poses_topic", "depth_topic", "camera_info_topic"):
        if not v[name]:
            raise ValueError(f"{name} must not be empty")
    if not v["registered"] and not v["depth_camera_info_topic"]:
        raise ValueError("unregistered depth (registered:=false) needs depth_camera_info_topic")
    if v["reliability"] not in RELIABILITIES:
        raise ValueError(f"reliability must be one of {', '.join(RELIABILITIES)}, "
                         f"got {v['reliability']!r}")
    compressed = v["depth_compressed"] or v["depth_topic"].rstrip("/").endswith("/compressedDepth")
    estimator = RgbdConfig(
        min_score=v["min_score"], window_fraction=v["window_fraction"],
        max_window_px=v["max_window_px"], max_behind_m=v["max_behind"],
        max_front_m=v["max_front"], limb_offset=v["limb_offset"], min_joints=v["min_joints"],
        method=v["method"], bone_check=v["bone_check"], limb_prior=v["limb_prior"],
        centre_on_surface=v["centre_on_surface"], window=WindowConfig())
    smoothing = smoothing_config(v)
    return RgbdNodeConfig(
        poses_topic=v["poses_topic"], depth_topic=v["depth_topic"], depth_compressed=compressed,
        camera_info_topic=v["camera_info_topic"], registered=v["registered"],
        depth_camera_info_topic=v["depth_camera_info_topic"],
        depth_to_color=extrinsic_matrix(v["depth_to_color"]), frame_id=v["frame_id"],
        reliability=v["reliability"], slop_s=v["slop"], queue_size=v["queue_size"],
        estimator=estimator, track_3d=v["track_3d"],
        tracking=TrackingConfig(max_distance_m=v["track_max_distance"], max_age_s=v["track_max_age"]),
        smoothing=smoothing, output=output_config(v), warn_period=v["warn_period"])
