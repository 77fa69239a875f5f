"""Reading and writing rig calibrations.

Formats:
- the project's YAML (``load_rig_yaml`` / ``save_rig_yaml``), documented in ``config/rig_example.yaml``;
- OpenPose's camera XML, one ``<serial>.xml`` per camera (spec §5: ``CameraMatrix`` [R|t] world to
  camera, ``Intrinsics`` K, ``Distortion`` 4/5/8/12/14 coefficients);
- the OpenCV-style TOML that Pose2Sim/anipose write (``matrix``, ``distortions``, Rodrigues
  ``rotation``, ``translation`` in metres, ``size`` [w, h], ``fisheye``);
- CMU Panoptic's calibration JSON (K, 5 ``distCoef``, R, t in centimetres).

Every reader returns a ``RigCalibration``: extrinsics for every camera, intrinsics where the file
has them. Intrinsics missing from a file can come from ``CameraInfo`` later (``RigCalibration.rig``).
All readers raise ``CalibrationError`` (and only that) for unusable input.
"""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np
import yaml

from openpose_ros.threed.cameras import CalibrationError, Camera, Intrinsics, Rig

__all__ = [
    "CameraEntry",
    "RigCalibration",
    "load_rig_yaml",
    "save_rig_yaml",
    "rig_from_dict",
    "load_openpose_xml",
    "load_pose2sim_toml",
    "load_panoptic_json",
    "load_calibration",
]


@dataclass(frozen=True)
class CameraEntry:
    """One camera of a calibration file.

    Attributes:
        name: camera key; the ``frame_id`` its 2D detections carry.
        R: float64 ``[3, 3]`` world-to-camera rotation; t: float64 ``[3]`` translation in metres.
        intrinsics: from the file, or None when they are to come from CameraInfo.
        topic: the camera's ``Pose2DArray`` topic, when the file names one.
        camera_info_topic: its ``CameraInfo`` topic, when the file names one.
    """

    name: str
    R: np.ndarray
    t: np.ndarray
    intrinsics: Intrinsics | None = None
    topic: str | None = None
    camera_info_topic: str | None = None

    def camera(self, intrinsics: Intrinsics | None = None) -> Camera:
        """The camera model, with ``intrinsics`` overriding the file's."""
        intr = intrinsics or self.intrinsics
        if intr is None:
            raise CalibrationError(f"camera {self.name!r} has no intrinsics (no file entry, no CameraInfo yet)")
        return Camera.from_parts(self.name, intr, self.R, self.t)


@dataclass(frozen=True)
class RigCalibration:
    """Extrinsics (and maybe intrinsics) of every camera in one world frame."""

    entries: tuple[CameraEntry, ...]
    world_frame: str = "world"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)

    def rig(self, intrinsics: Mapping[str, Intrinsics] | None = None) -> Rig:
        """All cameras as a ``Rig``; ``intrinsics`` (e.g. from CameraInfo) override the file's."""
        extra = intrinsics or {}
        return Rig(tuple(e.camera(extra.get(e.name)) for e in self.entries), self.world_frame)


def _rotation(value, what: str) -> np.ndarray:
    """A 3x3 rotation from a 3x3/9-vector matrix or a 3-vector Rodrigues rotation."""
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size == 3:
        return cv2.Rodrigues(arr)[0]
    if arr.size == 9:
        return arr.reshape(3, 3)
    raise CalibrationError(f"{what}: rotation must be 3 (Rodrigues) or 9 numbers, got {arr.size}")


def _quaternion_matrix(q) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _entry_from_dict(name: str, d: Mapping) -> CameraEntry:
    what = f"camera {name!r}"
    try:
        if "position" in d or "orientation" in d:  # camera optical frame pose in the world (ROS style)
            R_wc = _quaternion_matrix(d["orientation"])
            R, t = R_wc.T, -R_wc.T @ np.asarray(d["position"], dtype=np.float64)
        else:
            R, t = _rotation(d["rotation"], what), np.asarray(d["translation"], dtype=np.float64)
        intr = None
        if "K" in d:
            intr = Intrinsics(np.asarray(d["K"], dtype=np.float64), np.asarray(d.get("D", []), dtype=np.float64),
                              d.get("distortion_model", "plumb_bob"), d.get("image_size"))
    except KeyError as exc:
        raise CalibrationError(f"{what}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:  # CalibrationError included: add the camera's name
        raise CalibrationError(f"{what}: {exc}") from None
    Camera.from_parts(name, intr or Intrinsics(np.eye(3), []), R, t)  # validates R and t now
    return CameraEntry(name, R, t, intr, d.get("topic"), d.get("camera_info_topic"))


def rig_from_dict(data: Mapping) -> RigCalibration:
    """A calibration from the project's YAML structure (see ``load_rig_yaml``)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("cameras"), (list, tuple)):
        raise CalibrationError("rig calibration needs a 'cameras' list")
    entries = []
    for i, cam in enumerate(data["cameras"]):
        if not isinstance(cam, Mapping) or "name" not in cam:
            raise CalibrationError(f"rig calibration camera #{i} needs a 'name'")
        entries.append(_entry_from_dict(str(cam["name"]), cam))
    return RigCalibration(tuple(entries), str(data.get("world_frame", "world")))


def load_rig_yaml(path: str | Path) -> RigCalibration:
    """The project's rig YAML.

    Layout (units: metres, pixels)::

        world_frame: world
        cameras:
          - name: cam_01                   # frame_id of this camera's Pose2DArray
            topic: /cam_01/pose            # optional, the node subscribes here
            camera_info_topic: /cam_01/camera_info   # optional; used when K is absent
            rotation: [rx, ry, rz]         # world->camera, Rodrigues (3) or row-major matrix (9)
            translation: [tx, ty, tz]      # world->camera, metres
            # or: position: [x, y, z] and orientation: [qx, qy, qz, qw], the camera's optical
            # frame in the world (what TF shows)
            K: [fx, 0, cx, 0, fy, cy, 0, 0, 1]   # optional
            D: [k1, k2, p1, p2, k3]
            distortion_model: plumb_bob    # plumb_bob | rational_polynomial | equidistant
            image_size: [width, height]
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationError(f"cannot read rig calibration {path}: {exc}") from None
    return rig_from_dict(data)


def save_rig_yaml(calibration: RigCalibration, path: str | Path) -> None:
    """Write ``calibration`` in the project's YAML (Rodrigues rotation, translation in metres)."""
    cams = []
    for e in calibration.entries:
        d: dict = {"name": e.name}
        if e.topic:
            d["topic"] = e.topic
        if e.camera_info_topic:
            d["camera_info_topic"] = e.camera_info_topic
        d["rotation"] = cv2.Rodrigues(e.R)[0].ravel().tolist()
        d["translation"] = e.t.tolist()
        if e.intrinsics is not None:
            d["K"] = e.intrinsics.K.ravel().tolist()
            d["D"] = e.intrinsics.dist.tolist()
            d["distortion_model"] = e.intrinsics.distortion_model
            if e.intrinsics.image_size:
                d["image_size"] = list(e.intrinsics.image_size)
        cams.append(d)
    text = yaml.safe_dump({"world_frame": calibration.world_frame, "cameras": cams}, sort_keys=False)
    Path(path).write_text(text)


def _opencv_xml_matrix(root: ET.Element, tag: str, path: Path) -> np.ndarray:
    node = root.find(tag)
    if node is None:
        raise CalibrationError(f"{path}: no <{tag}> matrix")
    try:
        rows, cols = int(node.findtext("rows")), int(node.findtext("cols"))
        data = np.array(node.findtext("data").split(), dtype=np.float64)
        return data.reshape(rows, cols)
    except (TypeError, ValueError, AttributeError) as exc:
        raise CalibrationError(f"{path}: malformed <{tag}>: {exc}") from None


def load_openpose_xml(paths: str | Path | list[str | Path], image_size=None) -> RigCalibration:
    """OpenPose camera XML files (one per camera, named ``<serial>.xml``); a folder reads all of them.

    OpenPose's files do not record the image size: pass ``image_size`` (w, h) or take it from
    CameraInfo. 4/5 coefficients are plumb_bob, 8/12/14 rational_polynomial.
    """
    items = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    files = [f for p in items for f in (sorted(p.glob("*.xml")) if p.is_dir() else [p])]
    if not files:
        raise CalibrationError(f"no camera XML files in {paths}")
    entries = []
    for f in files:
        try:
            root = ET.parse(f).getroot()
        except (OSError, ET.ParseError) as exc:
            raise CalibrationError(f"cannot read OpenPose camera file {f}: {exc}") from None
        ext = _opencv_xml_matrix(root, "CameraMatrix", f)
        K = _opencv_xml_matrix(root, "Intrinsics", f)
        dist = _opencv_xml_matrix(root, "Distortion", f).ravel()
        if ext.shape != (3, 4):
            raise CalibrationError(f"{f}: CameraMatrix must be 3x4 [R|t], got {ext.shape}")
        model = "plumb_bob" if dist.size <= 5 else "rational_polynomial"
        name = f.name.split(".")[0]
        intr = Intrinsics(K, dist, model, image_size)
        Camera.from_parts(name, intr, ext[:, :3], ext[:, 3])
        entries.append(CameraEntry(name, ext[:, :3], ext[:, 3], intr))
    return RigCalibration(tuple(entries))


def load_pose2sim_toml(path: str | Path) -> RigCalibration:
    """A Pose2Sim / anipose calibration TOML (every table with a ``matrix`` is a camera)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration TOML {path}: {exc}") from None
    entries = []
    for key, cam in data.items():
        if not isinstance(cam, dict) or "matrix" not in cam:
            continue  # [metadata] and the like
        name = str(cam.get("name", key))
        try:
            model = "equidistant" if cam.get("fisheye", False) else "plumb_bob"
            intr = Intrinsics(np.asarray(cam["matrix"], dtype=np.float64),
                              np.asarray(cam["distortions"], dtype=np.float64), model, cam.get("size"))
            R = _rotation(cam["rotation"], name)
            t = np.asarray(cam["translation"], dtype=np.float64)
        except KeyError as exc:
            raise CalibrationError(f"{path}: camera {name!r} lacks {exc}") from None
        Camera.from_parts(name, intr, R, t)
        entries.append(CameraEntry(name, R, t, intr))
    if not entries:
        raise CalibrationError(f"{path}: no camera tables (with 'matrix') found")
    return RigCalibration(tuple(entries))


def load_panoptic_json(path: str | Path, camera_type: str = "hd") -> RigCalibration:
    """CMU Panoptic ``calibration_<seq>.json``: cameras of ``camera_type``, translation cm -> m."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"cannot read Panoptic calibration {path}: {exc}") from None
    entries = []
    for cam in data.get("cameras", []):
        if cam.get("type") != camera_type:
            continue
        intr = Intrinsics(np.asarray(cam["K"]), np.asarray(cam["distCoef"]), "plumb_bob",
                          cam.get("resolution"))
        t = np.asarray(cam["t"], dtype=np.float64).ravel() / 100.0
        entries.append(CameraEntry(cam["name"], np.asarray(cam["R"], dtype=np.float64), t, intr))
    if not entries:
        raise CalibrationError(f"{path}: no cameras of type {camera_type!r}")
    return RigCalibration(tuple(entries))


def load_calibration(path: str | Path) -> RigCalibration:
    """Any supported calibration, chosen by suffix: .yaml/.yml, .toml, .json, .xml or a folder of .xml."""
    p = Path(path)
    if p.is_dir() or p.name.endswith(".xml") or p.name.endswith(".xml.example"):
        return load_openpose_xml(p)
    readers = {".yaml": load_rig_yaml, ".yml": load_rig_yaml, ".toml": load_pose2sim_toml,
               ".json": load_panoptic_json}
    if p.suffix.lower() not in readers:
        raise CalibrationError(f"unknown calibration format {p.name!r} (yaml, toml, json, xml)")
    return readers[p.suffix.lower()](p)
