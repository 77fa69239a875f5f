"""Readers for the public multi-view data the 3D code is evaluated on (tests and benchmark).

- CMU Panoptic ``hdPose3d_stage1_coco19`` ground truth (``joints19``: x, y, z, confidence; cm).
- Pose2Sim's demo: OpenPose BODY_25B 2D JSON per camera and frame, and the .trc 3D markers it
  triangulated (Y-up; the calibration world is Z-up: .trc (X, Y, Z) is world (Z, X, Y)).

Both are mapped onto ``BODY_25`` slots by joint name (joints BODY_25 lacks are dropped, BODY_25 joints
the source lacks stay missing). The joint tables below are the datasets' own orders; they are kept
here, beside their only readers, and not in ``layouts``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from openpose_ros.layouts import BODY_25, Layout
from openpose_ros.people import People

__all__ = [
    "PANOPTIC_JOINTS19",
    "BODY_25B_PARTS",
    "load_panoptic_bodies",
    "to_layout",
    "load_openpose_json",
    "load_trc",
    "trc_to_world",
    "frame_index",
    "load_pose2sim_trial",
]

#: CMU Panoptic ``joints19`` order, spelled as BODY_25 names where the joint is the same.
PANOPTIC_JOINTS19 = (
    "Neck", "Nose", "MidHip", "LShoulder", "LElbow", "LWrist", "LHip", "LKnee", "LAnkle",
    "RShoulder", "RElbow", "RWrist", "RHip", "RKnee", "RAnkle", "LEye", "LEar", "REye", "REar",
)

#: OpenPose's experimental BODY_25B order (SOURCES.md), spelled as BODY_25 names where they match.
BODY_25B_PARTS = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
    "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "Neck", "HeadTop",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)


def to_layout(values: np.ndarray, names: tuple[str, ...] | list[str], layout: Layout = BODY_25,
              fill: float = np.nan) -> np.ndarray:
    """``values [..., K, C]`` in a ``names`` order re-slotted to ``[..., layout.num_parts, C]``.

    Joints the layout lacks are dropped; layout joints absent from ``names`` get ``fill``.
    """
    values = np.asarray(values)
    out = np.full(values.shape[:-2] + (layout.num_parts, values.shape[-1]), fill, dtype=np.float64)
    src = [k for k, n in enumerate(names) if layout.has(n)]
    out[..., [layout.index(names[k]) for k in src], :] = values[..., src, :]
    return out


def load_panoptic_bodies(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Panoptic 3D ground truth of one frame.

    Returns:
        ids int ``[P]``; joints float64 ``[P, 19, 3]`` in metres (Panoptic world); confidence ``[P, 19]``.
    """
    data = json.loads(Path(path).read_text())
    bodies = data.get("bodies", [])
    ids = np.array([b["id"] for b in bodies], dtype=np.int64)
    raw = np.array([b["joints19"] for b in bodies], dtype=np.float64).reshape(len(bodies), 19, 4)
    return ids, raw[..., :3] / 100.0, raw[..., 3]


def load_openpose_json(path: str | Path, image_size: tuple[int, int], parts=BODY_25B_PARTS,
                       layout: Layout = BODY_25) -> People:
    """One OpenPose ``*_keypoints.json`` frame as ``People`` in ``layout`` (default: from BODY_25B).

    OpenPose writes a missing joint as 0, 0, 0; it becomes NaN, NaN, 0 here.
    """
    data = json.loads(Path(path).read_text())
    people = data.get("people", [])
    if not people:
        return People.empty(layout, image_size)
    size = 3 * len(parts)
    raw = np.zeros((len(people), size))
    for k, p in enumerate(people):  # an empty array (no body for that entry) stays all-missing
        pose = p.get("pose_keypoints_2d") or []
        if len(pose) not in (0, size):
            raise ValueError(f"{path}: person {k} has {len(pose)} pose values, expected {size}")
        raw[k, :len(pose)] = pose
    raw = raw.reshape(len(people), len(parts), 3)
    body = to_layout(raw, parts, layout, fill=0.0)
    missing = ~(body[..., 2] > 0)
    body[missing] = (np.nan, np.nan, 0.0)
    scores = np.where(missing, 0.0, body[..., 2]).mean(axis=1)
    return People(layout, image_size, body, scores)


def load_trc(path: str | Path) -> tuple[tuple[str, ...], np.ndarray]:
    """A .trc marker file: marker names and float64 ``[F, K, 3]`` positions in the file's units/axes.

    Empty cells (markers not reconstructed in a frame) are NaN.
    """
    lines = Path(path).read_text().splitlines()
    names = tuple(n for n in lines[3].split("\t")[2:] if n.strip())
    frames = []
    for line in lines[5:]:
        cells = line.split("\t")
        if len(cells) < 2 or not cells[0].strip():
            continue
        vals = [float(c) if c.strip() else np.nan for c in cells[2:2 + 3 * len(names)]]
        vals += [np.nan] * (3 * len(names) - len(vals))
        frames.append(vals)
    return names, np.array(frames, dtype=np.float64).reshape(len(frames), len(names), 3)


def trc_to_world(points: np.ndarray) -> np.ndarray:
    """Pose2Sim .trc (Y-up) to its calibration world (Z-up): (X, Y, Z) -> (Z, X, Y)."""
    return np.asarray(points)[..., [2, 0, 1]]


def frame_index(path: str | Path) -> int:
    """Frame number in an OpenPose JSON name such as ``cam01.0042.json`` or ``x_000042_keypoints.json``."""
    numbers = re.findall(r"\d+", Path(path).name)
    if not numbers:
        raise ValueError(f"no frame number in {path}")
    return int(numbers[-1])


def load_pose2sim_trial(trial_dir: str | Path, camera_names: tuple[str, ...],
                        image_sizes: tuple[tuple[int, int], ...]) -> tuple[dict[int, dict[str, People]], np.ndarray]:
    """A Pose2Sim demo trial: 2D people per frame and camera, and Pose2Sim's own 3D.

    ``pose_openpose_body25b/camNN_json`` folders map, in sorted order, to ``camera_names``.
    Returns ``frames`` (frame -> camera name -> People in BODY_25) and float64
    ``[F, people, 25, 3]`` world-frame metres from the unfiltered ``pose-3d/*.trc`` files
    (one per person, sorted by name; .trc frame k+1 is JSON frame k).
    """
    trial = Path(trial_dir)
    folders = sorted((trial / "pose_openpose_body25b").glob("cam*_json"))
    if len(folders) != len(camera_names):
        raise ValueError(f"{trial}: {len(folders)} camera folders for {len(camera_names)} cameras")
    frames: dict[int, dict[str, People]] = {}
    for folder, name, size in zip(folders, camera_names, image_sizes):
        for f in sorted(folder.glob("*.json")):
            frames.setdefault(frame_index(f), {})[name] = load_openpose_json(f, size)
    theirs = []
    for trc in sorted(p for p in (trial / "pose-3d").glob("*.trc") if "filt" not in p.name):
        names, pts = load_trc(trc)
        theirs.append(to_layout(trc_to_world(pts), names))
    return frames, np.stack(theirs, axis=1)
