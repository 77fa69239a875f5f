"""OpenPose JSON output (spec §6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openpose_ros.decode.openpose_json import (
    format_openpose_json, parse_openpose_json, write_openpose_json,
)
from openpose_ros.layouts import BODY_25, COCO_18
from openpose_ros.people import People, empty_keypoints


def _people(n: int = 2, hands: bool = False, face: bool = False) -> People:
    body = empty_keypoints(n, 25)
    body[:, 0] = [123.456789, 45.5, 0.912345]
    body[:, 1] = [1000.25, 2000.5, 0.5]
    extra = {}
    if hands:
        hand = np.zeros((n, 21, 3), np.float32)
        hand[:, 3] = [10.0, 20.0, 0.75]
        extra = dict(left_hand=hand, right_hand=hand.copy())
    if face:
        extra["face"] = np.zeros((n, 70, 3), np.float32)
    return People(BODY_25, (1920, 1080), body, np.ones(n), track_ids=np.array([-1, 7][:n]), **extra)


def test_layout_of_a_frame():
    text = format_openpose_json(_people())
    frame = json.loads(text)
    assert text.startswith('{"version":1.3,"people":[{"person_id":[-1],"pose_keypoints_2d":[')
    assert list(frame["people"][0]) == [
        "person_id", "pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
        "hand_right_keypoints_2d", "pose_keypoints_3d", "face_keypoints_3d",
        "hand_left_keypoints_3d", "hand_right_keypoints_3d",
    ]
    first = frame["people"][0]
    assert len(first["pose_keypoints_2d"]) == 75
    assert first["pose_keypoints_2d"][:6] == [123.457, 45.5, 0.912345, 1000.25, 2000.5, 0.5]
    assert first["pose_keypoints_2d"][6:9] == [0, 0, 0]  # missing joint
    assert first["face_keypoints_2d"] == [] and first["hand_left_keypoints_2d"] == []
    assert first["pose_keypoints_3d"] == [] and frame["people"][1]["person_id"] == [7]
    assert '"pose_keypoints_2d":[123.457,45.5,0.912345,1000.25,2000.5,0.5,0,0,0,' in text


def test_hands_and_face_when_present_and_empty_frame():
    frame = json.loads(format_openpose_json(_people(1, hands=True, face=True)))
    person = frame["people"][0]
    assert len(person["hand_left_keypoints_2d"]) == 63 and len(person["face_keypoints_2d"]) == 210
    assert person["hand_right_keypoints_2d"][9:12] == [10, 20, 0.75]
    empty = People.empty(COCO_18, (640, 480))
    assert format_openpose_json(empty) == '{"version":1.3,"people":[]}'


def test_write_and_parse_round_trip(tmp_path):
    people = _people(2, hands=True)
    path = write_openpose_json(tmp_path / "frame_keypoints.json", people)
    back = parse_openpose_json(path.read_text(), BODY_25, (1920, 1080))
    np.testing.assert_allclose(back.body, people.body, rtol=1e-5)  # 6 significant digits
    assert back.has_hands and not back.has_face
    assert back.track_ids.tolist() == [-1, 7]
    with pytest.raises(ValueError):
        parse_openpose_json("{}", BODY_25, (1920, 1080))
    with pytest.raises(ValueError):
        parse_openpose_json(path.read_text(), COCO_18, (1920, 1080))  # 25 joints, not 18


def test_3d_json_as_openposes_3d_module_writes_it():
    from openpose_ros.decode.openpose_json import format_openpose_json_3d
    from openpose_ros.layouts import FACE_70, HAND_21
    from openpose_ros.threed.result import People3D

    def group(layout, n=2):
        j = layout.num_parts
        pts = np.arange(n * j * 3, dtype=np.float64).reshape(n, j, 3) / 7.0
        pts[:, 1] = np.nan  # joint 1 missing everywhere
        ok = np.isfinite(pts[..., 0])
        return People3D(layout, pts, ok * 0.8, ok * 3, ok * 1.5)

    body = group(BODY_25)
    people = People3D(BODY_25, body.body, body.scores, body.views, body.reproj_error,
                      track_ids=[4, -1], left_hand=group(HAND_21), right_hand=group(HAND_21),
                      face=group(FACE_70))
    frame = json.loads(format_openpose_json_3d(people))
    assert frame["version"] == 1.3 and [p["person_id"] for p in frame["people"]] == [[4], [-1]]
    person = frame["people"][1]
    assert all(person[k] == [] for k in ("pose_keypoints_2d", "face_keypoints_2d",
                                         "hand_left_keypoints_2d", "hand_right_keypoints_2d"))
    for key, part in (("pose_keypoints_3d", people), ("hand_left_keypoints_3d", people.left_hand),
                      ("hand_right_keypoints_3d", people.right_hand), ("face_keypoints_3d", people.face)):
        kp = np.array(person[key]).reshape(part.layout.num_parts, 4)
        assert kp[1].tolist() == [0, 0, 0, 0]  # missing
        assert (kp[np.arange(len(kp)) != 1, 3] == 1).all()
        np.testing.assert_allclose(kp[2:, :3], part.body[1, 2:], rtol=1e-5, atol=1e-5)
    bare = json.loads(format_openpose_json_3d(body))["people"][0]
    assert bare["face_keypoints_3d"] == [] and bare["hand_left_keypoints_3d"] == []
