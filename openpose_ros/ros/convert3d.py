"""``People3D`` <-> ``Pose3DArray``, parallel float32 arrays per person (no per-joint objects)."""

from __future__ import annotations

import array

import numpy as np
from std_msgs.msg import Header

from openpose_ros.layouts import layout_by_id
from openpose_ros.msg import Keypoints3D, Person3D, Pose3DArray
from openpose_ros.ros.convert import MessageFormatError, float_array
from openpose_ros.threed.result import People3D

__all__ = ["people3d_to_msg", "msg_to_people3d"]


def _uint8_array(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def people3d_to_msg(people: People3D, header: Header, num_views: int) -> Pose3DArray:
    """3D people as a ``Pose3DArray``; ``header`` carries the set's stamp and the world frame.

    Missing joints go out as x = y = z = NaN, score 0, views 0, reprojection_error NaN.
    """
    msg = Pose3DArray()
    msg.header = header
    msg.layout = people.layout.msg_id
    msg.num_views = int(num_views)
    valid = people.valid
    persons = []
    for i in range(len(people)):
        kp = Keypoints3D()
        body = np.where(valid[i, :, None], people.body[i], np.nan)
        kp.x, kp.y, kp.z = (float_array(body[:, k]) for k in range(3))
        kp.score = float_array(np.where(valid[i], people.scores[i], 0.0))
        kp.views = _uint8_array(np.where(valid[i], people.views[i], 0))
        kp.reprojection_error = float_array(np.where(valid[i], people.reproj_error[i], np.nan))
        person = Person3D()
        person.track_id = int(people.track_ids[i])
        person.score = float(people.person_scores[i])
        person.body = kp
        persons.append(person)
    msg.people = persons
    return msg


def msg_to_people3d(msg: Pose3DArray) -> People3D:
    """``Pose3DArray`` -> ``People3D``; ``MessageFormatError`` when lengths do not fit the layout."""
    try:
        layout = layout_by_id(msg.layout)
    except ValueError as exc:
        raise MessageFormatError(str(exc)) from None
    n, j = len(msg.people), layout.num_parts
    fields = np.empty((6, n, j), dtype=np.float32)
    for i, person in enumerate(msg.people):
        b = person.body
        columns = (b.x, b.y, b.z, b.score, b.reprojection_error)
        if any(len(c) != j for c in columns) or len(b.views) != j:
            raise MessageFormatError(f"person {i}: joint arrays must all have {j} entries ({layout.name})")
        for k, column in enumerate(columns):
            fields[k, i] = np.frombuffer(column if isinstance(column, array.array)
                                         else array.array("f", column), dtype=np.float32)
        fields[5, i] = np.frombuffer(bytes(b.views), dtype=np.uint8)
    return People3D(
        layout,
        np.stack(fields[:3], axis=-1),
        fields[3],
        fields[5].astype(np.uint8),
        fields[4],
        track_ids=np.array([p.track_id for p in msg.people], np.int32),
        person_scores=np.array([p.score for p in msg.people], np.float32),
    )
