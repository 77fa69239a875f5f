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
