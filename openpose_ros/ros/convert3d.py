"""``People3D`` <-> ``Pose3DArray``, parallel float32 arrays per person (no per-joint objects)."""

from __future__ import annotations

import array
from dataclasses import replace

import numpy as np
from std_msgs.msg import Header

from openpose_ros.layouts import FACE_70, HAND_21, layout_by_id
from openpose_ros.msg import Keypoints3D, Person3D, Pose3DArray
from openpose_ros.ros.convert import MessageFormatError, float_array
from openpose_ros.threed.result import People3D

__all__ = ["people3d_to_msg", "msg_to_people3d"]


def _uint8_array(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def _keypoints(people: People3D, i: int) -> Keypoints3D:
    """Person ``i`` of ``people`` as ``Keypoints3D`` (missing joints in the message convention)."""
    valid = people.valid[i]
    kp = Keypoints3D()
    joints = np.where(valid[:, None], people.body[i], np.nan)
    kp.x, kp.y, kp.z = (float_array(joints[:, k]) for k in range(3))
    kp.score = float_array(np.where(valid, people.scores[i], 0.0))
    kp.views = _uint8_array(np.where(valid, people.views[i], 0))
    kp.reprojection_error = float_array(np.where(valid, people.reproj_error[i], np.nan))
    return kp


def people3d_to_msg(people: People3D, header: Header, num_views: int) -> Pose3DArray:
    """3D people as a ``Pose3DArray``; ``header`` carries the set's stamp and the world frame.

    Missing joints go out as x = y = z = NaN, score 0, views 0, reprojection_error NaN. Hands
    and faces that are off go out as empty ``Keypoints3D``.
    """
    msg = Pose3DArray()
    msg.header = header
    msg.layout = people.layout.msg_id
    msg.num_views = int(num_views)
    parts = people.parts()
    persons = []
    for i in range(len(people)):
        person = Person3D()
        person.track_id = int(people.track_ids[i])
        person.score = float(people.person_scores[i])
        person.body = _keypoints(people, i)
        for name, part in parts.items():
            setattr(person, name, _keypoints(part, i))
        persons.append(person)
    msg.people = persons
    return msg


def _read_group(persons, name: str, layout, track_ids: np.ndarray) -> People3D:
    """One keypoint group (``body``, ``left_hand``, ...) of every person, as ``People3D``."""
    n, j = len(persons), layout.num_parts
    fields = np.empty((6, n, j), dtype=np.float32)
    for i, person in enumerate(persons):
        kp = getattr(person, name)
        columns = (kp.x, kp.y, kp.z, kp.score, kp.reprojection_error)
        if any(len(c) != j for c in columns) or len(kp.views) != j:
            raise MessageFormatError(
                f"person {i}: {name} arrays must all have {j} entries ({layout.name})")
        for k, column in enumerate(columns):
            fields[k, i] = np.frombuffer(column if isinstance(column, array.array)
                                         else array.array("f", column), dtype=np.float32)
        fields[5, i] = np.frombuffer(bytes(kp.views), dtype=np.uint8)
    return People3D(layout, np.stack(fields[:3], axis=-1), fields[3], fields[5].astype(np.uint8),
                    fields[4], track_ids=track_ids)


def msg_to_people3d(msg: Pose3DArray) -> People3D:
    """``Pose3DArray`` -> ``People3D``; ``MessageFormatError`` when lengths do not fit the layout.

    A hand or face group is on when the first person carries it; then every person must.
    """
    try:
        layout = layout_by_id(msg.layout)
    except ValueError as exc:
        raise MessageFormatError(str(exc)) from None
    track_ids = np.array([p.track_id for p in msg.people], np.int32)
    body = _read_group(msg.people, "body", layout, track_ids)
    parts = {name: _read_group(msg.people, name, part_layout, track_ids)
             for name, part_layout in (("left_hand", HAND_21), ("right_hand", HAND_21),
                                       ("face", FACE_70))
             if msg.people and len(getattr(msg.people[0], name).x)}
    return replace(body, person_scores=np.array([p.score for p in msg.people], np.float32),
                   **parts)
