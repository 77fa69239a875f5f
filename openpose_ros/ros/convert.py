"""People <-> ``Pose2DArray`` conversion, without per-joint Python objects.

Keypoints travel as parallel float32 arrays (``Keypoints2D``), so a frame converts with a few
buffer copies per person.
"""

from __future__ import annotations

import array

import numpy as np
from std_msgs.msg import Header

from openpose_ros.layouts import FACE_70, HAND_21, layout_by_id
from openpose_ros.msg import Keypoints2D, Person2D, Pose2DArray
from openpose_ros.people import People

__all__ = ["MessageFormatError", "people_to_msg", "msg_to_people", "keypoints_to_msg",
           "msg_to_keypoints", "float_array"]


class MessageFormatError(ValueError):
    """A received message does not describe valid keypoints (layout, lengths, sizes)."""


def float_array(values: np.ndarray) -> array.array:
    """``array('f')`` holding ``values`` (the type rosidl stores float32[] fields as)."""
    out = array.array("f")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return out


def keypoints_to_msg(keypoints: np.ndarray) -> Keypoints2D:
    """``[J, 3]`` (x, y, score) -> ``Keypoints2D``; missing joints become NaN, NaN, 0."""
    kp = np.asarray(keypoints, dtype=np.float32)
    missing = ~(kp[:, 2] > 0)
    xy = np.where(missing[:, None], np.float32(np.nan), kp[:, :2])
    msg = Keypoints2D()
    msg.x = float_array(xy[:, 0])
    msg.y = float_array(xy[:, 1])
    msg.score = float_array(np.where(missing, 0.0, kp[:, 2]))
    return msg


def msg_to_keypoints(msg: Keypoints2D, expected: tuple[int, ...], what: str) -> np.ndarray:
    """``Keypoints2D`` -> ``[J, 3]`` float32, checking that J is one of ``expected``."""
    n = len(msg.x)
    if len(msg.y) != n or len(msg.score) != n:
        raise MessageFormatError(
            f"{what}: x, y and score lengths differ ({n}, {len(msg.y)}, {len(msg.score)})")
    if n not in expected:
        raise MessageFormatError(f"{what}: {n} joints, expected one of {expected}")
    kp = np.empty((n, 3), dtype=np.float32)
    kp[:, 0] = np.frombuffer(msg.x, dtype=np.float32)
    kp[:, 1] = np.frombuffer(msg.y, dtype=np.float32)
    kp[:, 2] = np.frombuffer(msg.score, dtype=np.float32)
    return kp


def people_to_msg(people: People, header: Header) -> Pose2DArray:
    """One image's people as a ``Pose2DArray`` stamped with the source image's ``header``."""
    msg = Pose2DArray()
    msg.header = header
    msg.layout = people.layout.msg_id
    msg.image_width, msg.image_height = people.image_size
    persons = []
    for i in range(len(people)):
        person = Person2D()
        person.track_id = int(people.track_ids[i])
        person.score = float(people.scores[i])
        person.body = keypoints_to_msg(people.body[i])
        person.left_hand = keypoints_to_msg(people.left_hand[i])
        person.right_hand = keypoints_to_msg(people.right_hand[i])
        person.face = keypoints_to_msg(people.face[i])
        persons.append(person)
    msg.people = persons
    return msg


def msg_to_people(msg: Pose2DArray) -> People:
    """``Pose2DArray`` -> ``People``; ``MessageFormatError`` when the message is inconsistent.

    Hands and faces are kept only when every person carries them (a message mixing people with
    and without hands has its hands dropped as a whole, rather than padded with invented slots).
    """
    try:
        layout = layout_by_id(msg.layout)
    except ValueError as exc:
        raise MessageFormatError(str(exc)) from None
    if msg.image_width == 0 or msg.image_height == 0:
        raise MessageFormatError(f"image size {msg.image_width}x{msg.image_height} is empty")
    n = len(msg.people)
    body = np.empty((n, layout.num_parts, 3), np.float32)
    parts: dict[str, list[np.ndarray]] = {"left_hand": [], "right_hand": [], "face": []}
    sizes = {"left_hand": (0, HAND_21.num_parts), "right_hand": (0, HAND_21.num_parts),
             "face": (0, FACE_70.num_parts)}
    for i, person in enumerate(msg.people):
        body[i] = msg_to_keypoints(person.body, (layout.num_parts,), f"person {i} body")
        for name, allowed in sizes.items():
            parts[name].append(msg_to_keypoints(getattr(person, name), allowed, f"person {i} {name}"))
    filled = {}
    for name, arrays in parts.items():
        lengths = {len(a) for a in arrays}
        k = lengths.pop() if len(lengths) == 1 else 0
        filled[name] = np.stack(arrays) if n and k else np.zeros((n, 0, 3), np.float32)
    return People(
        layout=layout,
        image_size=(msg.image_width, msg.image_height),
        body=body,
        scores=np.array([p.score for p in msg.people], np.float32),
        track_ids=np.array([p.track_id for p in msg.people], np.int32),
        **filled,
    )
