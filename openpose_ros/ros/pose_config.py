"""The pose node's parameters: one table the node declares from, and the typed configs built
from the declared values.

Configuration flows one way: ``PARAMETERS`` (names, defaults, ranges, descriptions) ->
declared ROS parameters -> :func:`build_configs` -> ``PipelineConfig`` (the ROS-free core) and
``NodeSettings`` (topics, QoS, guards). Defaults and ranges follow OpenPose's flags (spec §3.9).
Parameters marked ``runtime`` may change while the node is active (thresholds, guards); the
others describe which networks and topics exist and change only in the unconfigured state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openpose_ros.handface.detector import HandFaceConfig
from openpose_ros.nets.precision import ENGINES, PRECISIONS
from openpose_ros.pipeline import PipelineConfig, models_dir_or_none, parse_net_resolution
from openpose_ros.tracking2d import TrackerConfig
from openpose_ros.ros.param_table import RELIABILITIES, ParamSpec, descriptor

__all__ = ["ParamSpec", "PARAMETERS", "PARAMETER_NAMES", "NodeSettings", "CameraTopics",
           "build_configs", "camera_topics", "descriptor", "check_value", "tracker_config",
           "MODELS", "RELIABILITIES"]

MODELS = ("BODY_25", "COCO_18", "MPI_15", "MPI_15_4", "LIGHTWEIGHT_COCO_18")
_COMPRESSED_SUFFIX = "/compressed"


_T = ParamSpec
PARAMETERS: tuple[ParamSpec, ...] = (
    _T("autostart", True, "configure and activate on start-up (false: wait for lifecycle calls)"),
    # -- which network, where (change only while unconfigured)
    _T("model", "BODY_25", "body network (OpenPose --model_pose; LIGHTWEIGHT_COCO_18 for CPUs)",
       choices=MODELS),
    _T("models_dir", "", "folder with model files; empty: $OPENPOSE_ROS_MODELS or the default"),
    _T("device", "auto", "torch device: auto (CUDA when present), cpu, cuda, cuda:N"),
    _T("engine", "auto", "inference engine: auto (openvino on a CPU when installed, else "
       "torch), torch, openvino (CPU only)", choices=ENGINES),
    _T("precision", "auto", "number format: auto (fp16 on CUDA; int8 for the lightweight "
       "network under openvino; bf16 on CPUs with native bf16; else fp32), fp32, fp16, bf16, "
       "int8; configure fails naming what the device and engine can run", choices=PRECISIONS),
    _T("num_threads", 0, "CPU threads of either engine; 0: every core of this machine",
       bounds=(0, 1024)),
    _T("net_resolution", "-1x368", "body net input WxH, multiples of 16 (8 for lightweight); "
       "one side -1 follows the image aspect (--net_resolution)"),
    _T("net_resolution_dynamic", 1.0, "cap on the derived side, x16/9 (--net_resolution_dynamic;"
       " <= 0: no cap)", bounds=(-1.0, 10.0)),
    _T("scale_number", 1, "number of body scales averaged (--scale_number)", bounds=(1, 8)),
    _T("scale_gap", 0.25, "gap between scales (--scale_gap)", bounds=(0.0, 1.0)),
    _T("hand", False, "detect hand keypoints (--hand)"),
    _T("face", False, "detect face keypoints (--face)"),
    _T("hand_net_resolution", 368, "hand crop side in pixels, multiple of 8", bounds=(16, 1024)),
    _T("face_net_resolution", 368, "face crop side in pixels, multiple of 8", bounds=(16, 1024)),
    _T("hand_scale_number", 1, "hand crops per hand at several scales (--hand_scale_number)",
       bounds=(1, 8)),
    _T("hand_scale_range", 0.4, "range of those scales (--hand_scale_range)", bounds=(0.0, 1.9)),
    # -- thresholds (change at run time)
    _T("render_threshold", 0.05, "keypoints below this score are not drawn (--render_threshold)",
       bounds=(0.0, 1.0), runtime=True),
    _T("hand_render_threshold", 0.2, "--hand_render_threshold", bounds=(0.0, 1.0), runtime=True),
    _T("face_render_threshold", 0.4, "--face_render_threshold", bounds=(0.0, 1.0), runtime=True),
    _T("nms_threshold", -1.0, "body part peak threshold; -1: the model's default (0.05 BODY_25/"
       "COCO, 0.6 MPI)", bounds=(-1.0, 1.0), runtime=True),
    _T("inter_threshold", -1.0, "PAF sample threshold; -1: model default (0.05)",
       bounds=(-1.0, 1.0), runtime=True),
    _T("inter_min_above_threshold", -1.0, "fraction of PAF samples above it; -1: model default"
       " (0.95)", bounds=(-1.0, 1.0), runtime=True),
    _T("min_subset_cnt", -1, "minimum parts per person; -1: model default (3)", bounds=(-1, 25),
       runtime=True),
    _T("min_subset_score", -1.0, "minimum mean score per person; -1: model default (0.4)",
       bounds=(-1.0, 1.0), runtime=True),
    _T("maximize_positives", False, "OpenPose's looser thresholds (--maximize_positives)",
       runtime=True),
    _T("number_people_max", -1, "keep the N best people per image, -1: all (--number_people_max)",
       bounds=(-1, 1000), runtime=True),
    # -- topics and QoS (change only while unconfigured)
    _T("image_topics", ["image_raw"], "camera image topics; a name ending in /compressed is "
       "read as sensor_msgs/CompressedImage"),
    _T("compressed", False, "read every topic as CompressedImage (subscribes <topic>/compressed)"),
    _T("reliability", "best_effort", "image subscription reliability (sensor-data QoS otherwise)",
       choices=RELIABILITIES),
    _T("queue_depth", 1, "image subscription history depth (only the newest frame is used)",
       bounds=(1, 100)),
    _T("publish_annotated", True, "offer <cam>/poses/image (drawn only while subscribed)"),
    # -- guards and timing (change at run time)
    _T("max_image_pixels", 7680 * 4320, "larger images are dropped and counted",
       bounds=(1, 2 ** 31 - 1), runtime=True),
    _T("image_timeout", 2.0, "warn when a camera sends nothing for this many seconds",
       bounds=(0.1, 3600.0), runtime=True),
    _T("batch_window", 0.01, "seconds to wait for the other live cameras' frames so they share"
       " one forward pass", bounds=(0.0, 1.0), runtime=True),
    _T("diagnostics_period", 1.0, "seconds between /diagnostics messages", bounds=(0.1, 60.0)),
    # -- 2D tracking, one tracker per camera (change at run time; a change restarts the tracks)
    _T("tracking", True, "give each person a track_id that stays while it is in view (-1: off)",
       runtime=True),
    _T("tracking_max_gap_s", 1.0, "seconds (image stamps) a track survives unseen",
       bounds=(0.0, 3600.0), runtime=True),
    _T("tracking_min_hits", 2, "detections before a track is confirmed and gets an id (-1 until "
       "then)", bounds=(1, 1000), runtime=True),
    _T("tracking_kappa", 0.25, "keypoint tolerance as a fraction of the person's size",
       bounds=(0.001, 10.0), runtime=True),
    _T("tracking_min_similarity", 0.2, "lowest keypoint similarity (0-1) that continues a track",
       bounds=(0.0, 1.0), runtime=True),
    _T("tracking_min_common_joints", 3, "fewest shared joints for the keypoint similarity (else "
       "the box overlap decides)", bounds=(1, 1000), runtime=True),
    _T("tracking_min_box_overlap", 0.5, "lowest box overlap (intersection / smaller box) that "
       "continues a track", bounds=(0.0, 1.0), runtime=True),
    _T("tracking_box_padding", 0.1, "keypoint boxes grow by this fraction of their larger side",
       bounds=(0.0, 10.0), runtime=True),
    _T("tracking_min_box_fraction", 0.02, "smallest box side and person size, as a fraction of the"
       " image's larger side", bounds=(0.0001, 1.0), runtime=True),
    _T("tracking_velocity_smoothing", 0.5, "weight of the newest velocity measurement (1: none)",
       bounds=(0.01, 1.0), runtime=True),
)
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)
_BY_NAME = {p.name: p for p in PARAMETERS}


def check_value(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name`` (None when it is).

    ROS checks types and numeric ranges from the descriptors; this adds what descriptors
    cannot say (choices, text formats, multiples).
    """
    spec = _BY_NAME.get(name)
    if spec is None:
        return None
    if spec.choices and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}, got {value!r}"
    try:
        if name == "net_resolution":
            parse_net_resolution(value)
        elif name in ("hand_net_resolution", "face_net_resolution") and value % 8:
            return f"{name} must be a multiple of 8, got {value}"
        elif name == "image_topics" and (not value or any(not t for t in value)):
            return "image_topics must name at least one topic, none empty"
        elif name == "number_people_max" and value == 0:
            return "number_people_max must be -1 (all) or >= 1"
        elif name == "device" and not (value in ("auto", "cpu", "cuda")
                                       or str(value).startswith("cuda:")):
            return f"device must be auto, cpu, cuda or cuda:N, got {value!r}"
    except ValueError as err:
        return str(err)
    return None


@dataclass(frozen=True)
class CameraTopics:
    """One camera: where its images come from and where its results go.

    ``<ns>/<image>[/compressed]`` -> ``<ns>/poses`` and ``<ns>/poses/image``
    (e.g. ``/cam1/image_raw`` -> ``/cam1/poses``; ``image_raw`` -> ``poses`` in the node's
    namespace).
    """

    name: str
    image_topic: str
    compressed: bool
    poses_topic: str
    annotated_topic: str


def camera_topics(topics: list[str], compressed: bool) -> list[CameraTopics]:
    """The cameras for ``image_topics``; ``ValueError`` when two would publish to one topic."""
    cameras = []
    for topic in topics:
        is_compressed = compressed or topic.endswith(_COMPRESSED_SUFFIX)
        base = topic[: -len(_COMPRESSED_SUFFIX)] if topic.endswith(_COMPRESSED_SUFFIX) else topic
        if is_compressed and not topic.endswith(_COMPRESSED_SUFFIX):
            topic = topic + _COMPRESSED_SUFFIX
        head, sep, _ = base.rpartition("/")
        poses = f"{head}/poses" if sep else "poses"
        cameras.append(CameraTopics(name=head.strip("/") or base.strip("/"),
                                    image_topic=topic, compressed=is_compressed,
                                    poses_topic=poses, annotated_topic=poses + "/image"))
    seen: dict[str, str] = {}
    for cam in cameras:
        if cam.poses_topic in seen:
            raise ValueError(f"image topics {seen[cam.poses_topic]!r} and {cam.image_topic!r} "
                             f"would both publish {cam.poses_topic!r}; put each camera in its "
                             "own namespace (<cam>/image_raw)")
        seen[cam.poses_topic] = cam.image_topic
    return cameras


@dataclass(frozen=True)
class NodeSettings:
    """The ROS side of the configuration."""

    cameras: tuple[CameraTopics, ...]
    reliability: str = "best_effort"
    queue_depth: int = 1
    publish_annotated: bool = True
    max_image_pixels: int = 7680 * 4320
    image_timeout: float = 2.0
    batch_window: float = 0.01
    diagnostics_period: float = 1.0
    tracking: TrackerConfig | None = TrackerConfig()  # None: tracking off


_TRACKING_PREFIX = "tracking_"


def tracker_config(values: dict[str, Any]) -> TrackerConfig | None:
    """The tracker's config from the ``tracking_*`` parameters; None when ``tracking`` is off."""
    if not values["tracking"]:
        return None
    fields = TrackerConfig.__dataclass_fields__
    return TrackerConfig(**{name[len(_TRACKING_PREFIX):]: value for name, value in values.items()
                            if name.startswith(_TRACKING_PREFIX)
                            and name[len(_TRACKING_PREFIX):] in fields})


def _threshold(value: float) -> float | None:
    return None if value < 0 else float(value)


def build_configs(values: dict[str, Any]) -> tuple[PipelineConfig, NodeSettings]:
    """Typed configs from parameter values (every name of ``PARAMETERS``).

    Raises:
        ValueError: a value no parameter check can catch alone (e.g. two cameras sharing
            an output topic, scales reaching 0).
    """
    for name, value in values.items():
        problem = check_value(name, value)
        if problem:
            raise ValueError(problem)
    v = values
    handface = HandFaceConfig(
        hands=bool(v["hand"]), faces=bool(v["face"]),
        hand_net_resolution=int(v["hand_net_resolution"]),
        face_net_resolution=int(v["face_net_resolution"]),
        hand_scale_number=int(v["hand_scale_number"]),
        hand_scale_range=float(v["hand_scale_range"]),
        max_people=int(v["number_people_max"]),
        hand_render_threshold=float(v["hand_render_threshold"]),
        face_render_threshold=float(v["face_render_threshold"]),
    )
    pipeline = PipelineConfig(
        model=str(v["model"]), models_dir=models_dir_or_none(str(v["models_dir"])),
        device=str(v["device"]), engine=str(v["engine"]), precision=str(v["precision"]),
        num_threads=int(v["num_threads"]),
        net_resolution=parse_net_resolution(v["net_resolution"]),
        net_resolution_dynamic=float(v["net_resolution_dynamic"]),
        scale_number=int(v["scale_number"]), scale_gap=float(v["scale_gap"]),
        nms_threshold=_threshold(v["nms_threshold"]),
        inter_threshold=_threshold(v["inter_threshold"]),
        inter_min_above_threshold=_threshold(v["inter_min_above_threshold"]),
        min_subset_cnt=None if v["min_subset_cnt"] < 0 else int(v["min_subset_cnt"]),
        min_subset_score=_threshold(v["min_subset_score"]),
        maximize_positives=bool(v["maximize_positives"]),
        number_people_max=int(v["number_people_max"]),
        render_threshold=float(v["render_threshold"]),
        handface=handface,
    )
    settings = NodeSettings(
        cameras=tuple(camera_topics(list(v["image_topics"]), bool(v["compressed"]))),
        reliability=str(v["reliability"]), queue_depth=int(v["queue_depth"]),
        publish_annotated=bool(v["publish_annotated"]),
        max_image_pixels=int(v["max_image_pixels"]), image_timeout=float(v["image_timeout"]),
        batch_window=float(v["batch_window"]),
        diagnostics_period=float(v["diagnostics_period"]),
        tracking=tracker_config(v),
    )
    return pipeline, settings
