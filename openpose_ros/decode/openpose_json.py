"""OpenPose's ``--write_json`` format for ``People`` (spec §6), writer and reader.

One object per frame: ``{"version":1.3,"people":[...]}``; each person has, in this order,
``person_id`` (``[-1]`` untracked), ``pose_keypoints_2d``, ``face_keypoints_2d``,
``hand_left_keypoints_2d``, ``hand_right_keypoints_2d`` (flat ``x, y, c``; a missing joint is
``0, 0, 0``; a disabled module is ``[]``) and the four ``*_3d`` arrays (``[]`` for 2D people).
Numbers are written like C++ streams do by default: 6 significant digits.

``format_openpose_json_3d`` writes 3D people as OpenPose's 3D module does: the ``*_3d`` arrays
are flat ``x, y, z, c`` in the calibration's units (metres) and world frame, ``c`` 1 for a
reconstructed joint and ``0, 0, 0, 0`` for a missing one; the ``*_2d`` arrays are ``[]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from openpose_ros.layouts import FACE_70, HAND_21, Layout
from openpose_ros.people import People, missing_to_nan
from openpose_ros.threed.result import People3D

__all__ = ["format_openpose_json", "write_openpose_json", "parse_openpose_json",
           "format_openpose_json_3d"]

_FIELDS_2D = ("pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
              "hand_right_keypoints_2d")
_FIELDS_3D = ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d",
              "hand_right_keypoints_3d")


def _number(value: float) -> str:
    text = f"{value:.6g}"
    return "0" if text in ("-0", "nan", "inf", "-inf") else text


def _flat(keypoints: np.ndarray) -> str:
    """``[J, 3]`` -> ``[x0,y0,c0,...]`` with missing joints (score 0 or non-finite) as 0,0,0."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    missing = ~(kp[:, 2] > 0) | ~np.isfinite(kp).all(axis=1)
    kp = np.where(missing[:, None], 0.0, kp)
    return "[" + ",".join(_number(v) for v in kp.ravel()) + "]"


def format_openpose_json(people: People) -> str:
    """The JSON text OpenPose writes for one frame with these people."""
    persons = []
    for i in range(len(people)):
        track = int(people.track_ids[i])
        arrays = (
            _flat(people.body[i]),
            _flat(people.face[i]) if people.has_face else "[]",
            _flat(people.left_hand[i]) if people.has_hands else "[]",
            _flat(people.right_hand[i]) if people.has_hands else "[]",
        )
        items = [f'"person_id":[{track if track >= 0 else -1}]']
        items += [f'"{name}":{text}' for name, text in zip(_FIELDS_2D, arrays)]
        items += [f'"{name}":[]' for name in _FIELDS_3D]
        persons.append("{" + ",".join(items) + "}")
    return '{"version":1.3,"people":[' + ",".join(persons) + "]}"


def _flat_3d(people: People3D, i: int) -> str:
    """Person ``i`` as ``[x0,y0,z0,c0,...]``: c = 1 where reconstructed, else 0,0,0,0."""
    valid = people.valid[i]
    kp = np.concatenate([people.body[i].astype(np.float64), valid[:, None].astype(np.float64)], axis=1)
    kp = np.where(valid[:, None], kp, 0.0)
    return "[" + ",".join(_number(v) for v in kp.ravel()) + "]"


def format_openpose_json_3d(people: People3D) -> str:
    """The JSON text OpenPose's 3D module writes for one frame with these 3D people."""
    parts = people.parts()
    persons = []
    for i in range(len(people)):
        track = int(people.track_ids[i])
        arrays = (
            _flat_3d(people, i),
            _flat_3d(parts["face"], i) if "face" in parts else "[]",
            _flat_3d(parts["left_hand"], i) if "left_hand" in parts else "[]",
            _flat_3d(parts["right_hand"], i) if "right_hand" in parts else "[]",
        )
        items = [f'"person_id":[{track if track >= 0 else -1}]']
        items += [f'"{name}":[]' for name in _FIELDS_2D]
        items += [f'"{name}":{text}' for name, text in zip(_FIELDS_3D, arrays)]
        persons.append("{" + ",".join(items) + "}")
    return '{"version":1.3,"people":[' + ",".join(persons) + "]}"


def write_openpose_json(path: str | Path, people: People) -> Path:
    """Write ``format_openpose_json(people)`` to ``path`` (e.g. ``<name>_keypoints.json``)."""
    path = Path(path)
    path.write_text(format_openpose_json(people) + "\n", encoding="utf-8")
    return path


def _keypoints(values: list, num_parts: int, field: str) -> np.ndarray:
    kp = np.asarray(values, dtype=np.float32)
    if kp.size != num_parts * 3:
        raise ValueError(f"{field} has {kp.size} numbers, expected {num_parts * 3}")
    return missing_to_nan(kp.reshape(num_parts, 3))


def parse_openpose_json(text: str, layout: Layout, image_size: tuple[int, int]) -> People:
    """People from OpenPose JSON text (our writer's or OpenPose's own); person scores are 0.

    Raises:
        ValueError: not OpenPose JSON, or arrays of the wrong length for ``layout``.
    """
    try:
        frame = json.loads(text)
        persons = frame["people"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"not OpenPose JSON: {err}") from None
    n = len(persons)
    body = np.stack([_keypoints(p["pose_keypoints_2d"], layout.num_parts, "pose_keypoints_2d")
                     for p in persons]) if n else np.zeros((0, layout.num_parts, 3), np.float32)

    def optional(field: str, part_layout: Layout) -> np.ndarray | None:
        if n == 0 or not all(p.get(field) for p in persons):
            return None
        return np.stack([_keypoints(p[field], part_layout.num_parts, field) for p in persons])

    ids = [int((p.get("person_id") or [-1])[0]) for p in persons]
    return People(
        layout, image_size, body, np.zeros(n, np.float32),
        left_hand=optional("hand_left_keypoints_2d", HAND_21),
        right_hand=optional("hand_right_keypoints_2d", HAND_21),
        face=optional("face_keypoints_2d", FACE_70),
        track_ids=np.array(ids, dtype=np.int32),
    )
