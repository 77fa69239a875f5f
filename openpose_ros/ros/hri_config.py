"""The HRI bridge's parameters: one table the node declares from (``ParamSpec``, as the pose
and triangulation nodes do) and the typed config built from the declared values.

All parameters are read at start-up; changing them needs a restart (the node refuses updates).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpose_ros.hri.ids import check_prefix, input_prefixes
from openpose_ros.ros.param_table import ParamSpec

__all__ = ["PARAMETERS", "PARAMETER_NAMES", "HriBridgeConfig", "build_config"]

_T = ParamSpec
PARAMETERS: tuple[ParamSpec, ...] = (
    _T("pose_topics", ["poses"], "Pose2DArray inputs, one per camera (the pose node's "
       "<cam>/poses), with track ids filled in"),
    _T("id_prefixes", [""], "id prefix per input, in pose_topics order (ids are <prefix>_<track "
       "id>); empty or missing entries: c<index>"),
    _T("pose3d_topic", "", "optional Pose3DArray input (tracked 3D people); empty: no 3D, no TF"),
    _T("pose3d_id_prefix", "w", "id prefix of the 3D people: a pose_topics input's prefix when "
       "the 3D source keeps that camera's track ids (one body then has skeleton2d, roi and TF "
       "body_<id>), else a prefix of its own (the triangulation node's 3D ids)"),
    _T("publish_tf", True, "publish TF body_<id> (REP-155 axes) for the 3D people"),
    _T("faces", True, "publish /humans/faces/* for people whose face keypoints are present"),
    _T("min_score", 0.0, "keypoints at or below this confidence go out as missing (c = 0)",
       bounds=(0.0, 1.0)),
    _T("min_face_landmarks", 5, "fewest valid landmarks for a face to be published",
       bounds=(1, 70)),
    _T("roi_padding", 0.1, "a body's ROI grows by this fraction of the joints' box on every side",
       bounds=(0.0, 2.0)),
    _T("id_timeout", 5.0, "seconds after an id was last seen before its per-id publishers are "
       "destroyed", bounds=(0.0, 3600.0)),
    _T("max_ids", 256, "most ids holding per-id publishers at once (the least recently seen "
       "absent ones go first)", bounds=(1, 100000)),
    _T("camera_timeout", 1.0, "an input silent this long (s) adds no ids to tracked",
       bounds=(0.01, 3600.0)),
    _T("diagnostics_period", 1.0, "seconds between /diagnostics messages", bounds=(0.1, 60.0)),
    _T("warn_period", 5.0, "seconds between repeats of the same warning", bounds=(0.0, 3600.0)),
)
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)


@dataclass(frozen=True)
class HriBridgeConfig:
    """Everything the bridge needs, typed (see ``PARAMETERS`` for the meaning of each)."""

    pose_topics: tuple[str, ...]
    id_prefixes: tuple[str, ...]
    pose3d_topic: str
    pose3d_id_prefix: str
    publish_tf: bool
    faces: bool
    min_score: float
    min_face_landmarks: int
    roi_padding: float
    id_timeout: float
    max_ids: int
    camera_timeout: float
    diagnostics_period: float
    warn_period: float

    @property
    def pose3d_shares_ids(self) -> bool:
        """True when the 3D people's ids are those of one of the 2D inputs."""
        return self.pose3d_id_prefix in self.id_prefixes


def build_config(values: dict) -> HriBridgeConfig:
    """The typed config from parameter values; ``ValueError`` says which value is wrong."""
    v = values
    topics = tuple(v["pose_topics"])
    if not topics or any(not t for t in topics):
        raise ValueError("pose_topics must name at least one Pose2DArray topic, none empty")
    if len(set(topics)) != len(topics):
        raise ValueError(f"pose_topics lists a topic twice: {list(topics)}")
    prefixes = tuple(input_prefixes(len(topics), list(v["id_prefixes"])))
    if v["pose3d_topic"]:
        problem = check_prefix(v["pose3d_id_prefix"])
        if problem:
            raise ValueError(f"pose3d_id_prefix: {problem}")
    return HriBridgeConfig(
        pose_topics=topics, id_prefixes=prefixes, pose3d_topic=str(v["pose3d_topic"]),
        pose3d_id_prefix=str(v["pose3d_id_prefix"]), publish_tf=bool(v["publish_tf"]),
        faces=bool(v["faces"]), min_score=float(v["min_score"]),
        min_face_landmarks=int(v["min_face_landmarks"]), roi_padding=float(v["roi_padding"]),
        id_timeout=float(v["id_timeout"]), max_ids=int(v["max_ids"]),
        camera_timeout=float(v["camera_timeout"]),
        diagnostics_period=float(v["diagnostics_period"]), warn_period=float(v["warn_period"]))
