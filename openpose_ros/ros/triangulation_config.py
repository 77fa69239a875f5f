"""The triangulation node's parameters: one table the node declares from, and the typed config
built from the declared values (parameters -> ``TriangulationNodeConfig`` -> the ROS-free core).

All parameters are read at start-up; changing them needs a restart (the node refuses updates).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpose_ros.layouts import BODY_LAYOUTS, Layout
from openpose_ros.ros.people3d_output import (OUTPUT_PARAMETERS, SMOOTHING_PARAMETERS,
                                              People3DOutputConfig, output_config,
                                              smoothing_config)
from openpose_ros.ros.param_table import ParamSpec
from openpose_ros.threed.associate import AssociationConfig
from openpose_ros.threed.reconstruct import ReconstructionConfig
from openpose_ros.threed.smoothing import OneEuroConfig
from openpose_ros.threed.tracking import TrackingConfig
from openpose_ros.threed.triangulate import TriangulationConfig

__all__ = ["PARAMETERS", "PARAMETER_NAMES", "TriangulationNodeConfig", "build_config"]

LAYOUT_CHOICES = ("auto",) + tuple(BODY_LAYOUTS)

_T = ParamSpec
PARAMETERS: tuple[ParamSpec, ...] = (
    _T("calibration_file", "", "rig calibration: the project's YAML, a Pose2Sim/OpenCV TOML, "
       "OpenPose camera XML (a file or a folder of them) or a CMU Panoptic JSON"),
    _T("world_frame", "", "frame of the 3D output, TF and markers; empty: the calibration's"),
    _T("pose_topic_pattern", "/{camera}/poses", "Pose2DArray topic of a camera whose calibration "
       "entry names none; {camera} is the camera name (its frame_id)"),
    _T("camera_info_topic_pattern", "/{camera}/camera_info", "CameraInfo topic of a camera whose "
       "entry names none"),
    _T("use_camera_info", False, "take intrinsics from CameraInfo (cameras whose calibration has "
       "no intrinsics always do)"),
    _T("layout", "auto", "body layout expected from every camera; auto: the most common in a set",
       choices=LAYOUT_CHOICES),
    # -- synchronisation
    _T("slop", 0.02, "largest stamp spread inside a set, s (keep under half the frame period)",
       bounds=(0.0, 10.0)),
    _T("queue_size", 10, "messages held per camera while a set forms", bounds=(1, 1000)),
    _T("min_views", 2, "fewest cameras in a set", bounds=(2, 1000)),
    _T("wait_for_stragglers", True, "wait until a set cannot grow before emitting it (false: "
       "emit once min_views cameras agree)"),
    # -- association and triangulation
    _T("min_score", 0.3, "2D joints at or below this confidence are ignored", bounds=(0.0, 1.0)),
    _T("max_epipolar_px", 25.0, "largest mean epipolar distance between one person's views, px",
       bounds=(0.1, 10000.0)),
    _T("min_common_joints", 3, "joints two detections must share to be compared",
       bounds=(1, 1000)),
    _T("reject_error_px", 15.0, "with 3+ views, drop views while the worst reprojection error "
       "exceeds this, px", bounds=(0.1, 10000.0)),
    _T("max_error_px", 30.0, "joints whose mean reprojection error stays above this are missing",
       bounds=(0.1, 10000.0)),
    _T("refine", True, "Levenberg-Marquardt refinement with a Huber loss"),
    _T("refine_min_error_px", 3.0, "refine joints whose linear fit is off by more than this, px",
       bounds=(0.0, 10000.0)),
    _T("huber_delta_px", 2.0, "Huber loss threshold of the refinement, px", bounds=(0.01, 1000.0)),
    _T("refine_solver", "batched", "batched (numpy) or scipy (least_squares)",
       choices=("batched", "scipy")),
    _T("min_joints", 4, "fewest reconstructed joints for a 3D person", bounds=(1, 1000)),
    _T("min_seen_fraction", 0.5, "share of the cameras a person falls in that must have detected "
       "it (ghost rejection; 0: off)", bounds=(0.0, 1.0)),
    # -- identity over time
    _T("track_max_distance", 0.5, "farthest match between sets, m (mean joint distance)",
       bounds=(0.01, 100.0)),
    _T("track_max_age", 1.0, "seconds an unseen person keeps its id", bounds=(0.0, 3600.0)),
    *SMOOTHING_PARAMETERS,
    # -- outputs
    *OUTPUT_PARAMETERS,
    _T("publish_camera_tf", True, "each camera's frame in the world frame on /tf_static"),
    _T("warn_period", 5.0, "seconds between repeats of the same warning", bounds=(0.0, 3600.0)),
)
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)


@dataclass(frozen=True)
class TriangulationNodeConfig:
    """Everything the node needs, typed; ``reconstruction``, ``tracking`` and ``smoothing`` go to
    the core unchanged."""

    calibration_file: str
    world_frame: str
    pose_topic_pattern: str
    camera_info_topic_pattern: str
    use_camera_info: bool
    slop_s: float
    queue_size: int
    min_views: int
    wait_for_stragglers: bool
    reconstruction: ReconstructionConfig
    tracking: TrackingConfig
    smoothing: OneEuroConfig | None
    output: People3DOutputConfig
    publish_camera_tf: bool
    warn_period: float


def build_config(values: dict) -> TriangulationNodeConfig:
    """The typed config from parameter values; ``ValueError`` says which value is wrong."""
    v = values
    if not v["calibration_file"]:
        raise ValueError("calibration_file is required (a rig YAML, TOML, XML or Panoptic JSON)")
    for name in ("pose_topic_pattern", "camera_info_topic_pattern"):
        if "{camera}" not in v[name]:
            raise ValueError(f"{name} must contain {{camera}}, got {v[name]!r}")
    if v["layout"] not in LAYOUT_CHOICES:
        raise ValueError(f"layout must be one of {', '.join(LAYOUT_CHOICES)}, got {v['layout']!r}")
    layout: Layout | None = None if v["layout"] == "auto" else BODY_LAYOUTS[v["layout"]]
    reconstruction = ReconstructionConfig(
        association=AssociationConfig(min_score=v["min_score"], max_epipolar_px=v["max_epipolar_px"],
                                      min_common_joints=v["min_common_joints"]),
        triangulation=TriangulationConfig(
            min_score=v["min_score"], reject_error_px=v["reject_error_px"],
            max_error_px=v["max_error_px"], refine=v["refine"],
            refine_min_error_px=v["refine_min_error_px"], huber_delta_px=v["huber_delta_px"],
            refine_solver=v["refine_solver"]),
        min_joints=v["min_joints"], min_seen_fraction=v["min_seen_fraction"], layout=layout)
    smoothing = smoothing_config(v)
    return TriangulationNodeConfig(
        calibration_file=v["calibration_file"], world_frame=v["world_frame"],
        pose_topic_pattern=v["pose_topic_pattern"],
        camera_info_topic_pattern=v["camera_info_topic_pattern"],
        use_camera_info=v["use_camera_info"], slop_s=v["slop"], queue_size=v["queue_size"],
        min_views=v["min_views"], wait_for_stragglers=v["wait_for_stragglers"],
        reconstruction=reconstruction,
        tracking=TrackingConfig(max_distance_m=v["track_max_distance"], max_age_s=v["track_max_age"]),
        smoothing=smoothing, output=output_config(v), publish_camera_tf=v["publish_camera_tf"],
        warn_period=v["warn_period"])
